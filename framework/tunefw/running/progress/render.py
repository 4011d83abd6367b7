"""How a ``Snapshot`` is drawn: a rich live view for terminals, one plain line for logs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich import box
from rich.console import Group, RenderableType
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from tunefw.running.progress.state import Snapshot, TrialState
from tunefw.store import columns as col


def fmt(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def config_text(config: Mapping[str, Any]) -> str:
    """``a=1, b=0.25``: a trial's hyperparameters on one line."""
    return ", ".join(f"{name}={fmt(value)}" for name, value in config.items())


def _counts(snap: Snapshot) -> str:
    return f"{snap.running} running · {snap.stopped_early} stopped early · {snap.errored} errored"


def _best(snap: Snapshot, metric: str) -> str:
    best = snap.best
    if best is None or best.score is None:
        return f"best {metric} -"
    return f"best {metric} {best.score:.4f} ({config_text(best.config)})"


def plain_line(snap: Snapshot, metric: str) -> str:
    """The state of the run on one line, without markup."""
    eta = "" if snap.eta_s is None else f" · eta {snap.eta_s:.0f} s"
    return f"trials {snap.done}/{snap.total} done · {_counts(snap)} · {_best(snap, metric)}{eta}"


_STATUS_STYLE = {
    col.RUNNING: "cyan",
    col.TERMINATED: "green",
    col.STOPPED_EARLY: "yellow",
    col.ERRORED: "red",
}


class LiveRender:
    """Builds the live view: a bar over trials with its ETA, the counts, the best trial and a
    table of the top trials. Called by rich's refresh thread, never by a callback hook."""

    def __init__(self, metric: str, title: str = "trials") -> None:
        self.metric = metric
        self.bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
        )
        self.task = self.bar.add_task(title, total=None)

    def __call__(self, snap: Snapshot) -> RenderableType:
        self.bar.update(self.task, total=snap.total, completed=snap.done)
        parts: list[RenderableType] = [
            self.bar,
            Text(_counts(snap)),
            Text(_best(snap, self.metric), style="bold", overflow="ellipsis", no_wrap=True),
        ]
        if snap.top:
            parts.append(self.table(snap.top))
        return Group(*parts)

    def table(self, trials: list[TrialState]) -> Table:
        table = Table(box=box.SIMPLE_HEAD, pad_edge=False, expand=False)
        table.add_column("trial", no_wrap=True)
        table.add_column("status", no_wrap=True)
        table.add_column("iter", justify="right")
        table.add_column(self.metric, justify="right")
        table.add_column("config", overflow="ellipsis", no_wrap=True, max_width=72)
        for trial in trials:
            score = "-" if trial.score is None else f"{trial.score:.4f}"
            status = Text(trial.status, style=_STATUS_STYLE.get(trial.status, ""))
            if not trial.feasible:
                status.append(" (infeasible)")
            table.add_row(
                trial.trial_id, status, str(trial.iteration), score, config_text(trial.config)
            )
        return table
