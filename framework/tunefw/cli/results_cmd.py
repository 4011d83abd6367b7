"""``tunefw results`` and ``tunefw best``: read an experiment back from its Parquet files."""

from __future__ import annotations

import io
import json
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import pyarrow as pa
import pyarrow.csv as pacsv
import typer
import yaml
from rich.console import Console
from rich.table import Table

from tunefw.cli.options import DEFAULT_STORAGE, RunOption, StorageOption
from tunefw.errors import StoreError
from tunefw.store import columns as col
from tunefw.store.layout import RunLocation, Storage, latest_run
from tunefw.store.reader import best_trial, final_rows, read_manifest, read_results

NameArg = Annotated[str, typer.Argument(help="The experiment's name.")]


class Format(str, Enum):
    table = "table"
    csv = "csv"
    json = "json"


def _open(name: str, storage: str, run: str | None) -> tuple[RunLocation, dict[str, Any]]:
    location = latest_run(Storage.open(storage), name, run)
    return location, read_manifest(location)


def results(
    name: NameArg,
    storage: StorageOption = DEFAULT_STORAGE,
    run: RunOption = None,
    fmt: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.table,
    all_rows: Annotated[
        bool, typer.Option("--all-rows", help="Every reported result, not one row per trial.")
    ] = False,
) -> None:
    """The trials of an experiment's run, best first."""
    location, manifest = _open(name, storage, run)
    objective = manifest["recipe"]["objective"]
    table = read_results(location)
    table = table if all_rows else final_rows(table)
    metric = col.METRIC_PREFIX + objective["metric"]
    if metric in table.column_names and table.num_rows:
        order = "descending" if objective["mode"] == "max" else "ascending"
        table = table.sort_by([(metric, order)])
    if fmt is Format.csv:
        sink = io.BytesIO()
        pacsv.write_csv(_text_safe(table), sink)
        sys.stdout.write(sink.getvalue().decode())
    elif fmt is Format.json:
        sys.stdout.write(json.dumps(table.to_pylist(), default=str, indent=1) + "\n")
    else:
        _print_table(table, metric, f"{name} · run {location.run_id}")


def _text_safe(table: pa.Table) -> pa.Table:
    """CSV cannot hold nested or null-typed columns; write those as text."""
    return pa.table(
        {
            n: c.cast(pa.string()) if pa.types.is_null(c.type) else c
            for n, c in zip(table.column_names, table.columns, strict=True)
        }
    )


def _print_table(table: pa.Table, metric: str, title: str) -> None:
    shown = [col.TRIAL_ID, col.STATUS, col.ITERATION]
    shown += [n for n in table.column_names if n.startswith(col.CONFIG_PREFIX)]
    shown += [metric] if metric in table.column_names else []
    view = Table(title=title)
    for name in shown:
        label = name.removeprefix(col.CONFIG_PREFIX).removeprefix(col.METRIC_PREFIX)
        view.add_column(label, no_wrap=name in (col.TRIAL_ID, col.STATUS))
    for row in table.select(shown).to_pylist():
        view.add_row(*(_fmt(row[c]) for c in shown))
    Console().print(view)


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def best(
    name: NameArg,
    storage: StorageOption = DEFAULT_STORAGE,
    run: RunOption = None,
    export: Annotated[
        Path | None, typer.Option(help="Write the best config and score to this YAML file.")
    ] = None,
) -> None:
    """The best trial's config and score."""
    location, manifest = _open(name, storage, run)
    objective = manifest["recipe"]["objective"]
    found = best_trial(read_results(location), objective["metric"], objective["mode"])
    if found is None:
        raise StoreError(
            f"{name}: no trial of run {location.run_id} reported {objective['metric']}"
        )
    console = Console()
    console.print(
        f"best {found.metric} {found.score:.4f} · trial {found.trial_id} ({found.status}, "
        f"{found.iteration} iterations) · run {location.run_id}",
        highlight=False,
    )
    for key, value in found.config.items():
        console.print(f"  {key}: {value}", highlight=False)
    if export is not None:
        document = {
            "experiment": name,
            "run_id": location.run_id,
            "trial_id": found.trial_id,
            "objective": {**objective, "value": found.score},
            "config": found.config,
        }
        try:
            export.write_text(yaml.safe_dump(document, sort_keys=False))
        except OSError as exc:
            raise StoreError(f"--export: cannot write {export}: {exc.strerror}") from None
        console.print(f"wrote {export}", highlight=False)
