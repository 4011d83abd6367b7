"""``tunefw report`` and ``tunefw export``: an experiment as an HTML page or an Optuna study.

``tunefw.report`` is imported when one of them runs: it brings plotly, Optuna's importance and
scikit-learn (~0.9 s), which every other command would otherwise pay at start-up.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from tunefw.cli.options import DEFAULT_STORAGE, NameArg, StorageOption
from tunefw.experiment import write_report
from tunefw.store.layout import Storage, find_experiment


class ExportFormat(str, Enum):
    optuna_journal = "optuna-journal"


def report(
    name: NameArg,
    storage: StorageOption = DEFAULT_STORAGE,
    out: Annotated[
        Path | None, typer.Option(help="The HTML file to write; NAME-report.html by default.")
    ] = None,
) -> None:
    """One self-contained HTML page: history, parameters, importance, learning curves, the
    Pareto front, score against compute, and the top trials."""
    location = find_experiment(Storage.open(storage), name)
    path = write_report(location, out, "--out")
    Console().print(f"wrote {path}", highlight=False)


def export(
    name: NameArg,
    file: Annotated[Path, typer.Argument(help="A new file, or a journal of other studies.")],
    to: Annotated[ExportFormat, typer.Option("--to", help="What to write.")],  # one so far
    storage: StorageOption = DEFAULT_STORAGE,
) -> None:
    """Write an experiment as an Optuna study (a journal file ``optuna-dashboard FILE`` opens):
    its distributions, trials, intermediate values, states and tunefw trial ids."""
    from tunefw.report.study import export_journal
    from tunefw.report.trials import load_experiment

    experiment = load_experiment(storage, name)
    study = export_journal(experiment, file)
    Console().print(
        f"wrote study {study.study_name!r} ({len(study.trials)} trials) to {file}",
        highlight=False,
    )
