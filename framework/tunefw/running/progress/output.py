"""What a run prints: ``tunefw run`` and ``tunefw resume``, and ``tunefw.run()`` in Python.

By default a live progress view on stderr, then a summary on stdout; ``--quiet`` prints
nothing but errors (the exit code tells the rest); ``--json`` prints one JSON event per line
on stdout and nothing else there: the trials' events, ``stage_finished`` and
``nested_estimate`` where the recipe has stages or nested CV, ``study_stopped`` where a stop
rule ended the study, and ``run_finished`` last.
"""

from __future__ import annotations

import dataclasses
import statistics
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, redirect_stdout
from typing import Any, Literal

from ray.tune import Callback
from rich.console import Console

from tunefw.errors import RecipeError
from tunefw.prepare.prepared import Prepared
from tunefw.running.compile import total_trials
from tunefw.running.progress.events import JsonEvents, write_event
from tunefw.running.progress.render import config_text
from tunefw.running.progress.view import ProgressView
from tunefw.running.runner import RunSummary
from tunefw.running.stages import StageRun
from tunefw.running.stopping.judges import Verdict
from tunefw.store.ranking import BestTrial


class RunOutput:
    """One of three modes: ``text`` (live view, summary), ``quiet`` or ``json``."""

    def __init__(self, mode: Literal["text", "quiet", "json"]) -> None:
        self.mode = mode
        self.stdout = sys.stdout
        """Where events go: stdout as it was before ``session`` redirected it."""
        self.noted: set[str] = set()
        """The notes already said: experiments prepared alike (nested CV's) say them once."""

    @classmethod
    def from_flags(cls, quiet: bool, json: bool) -> RunOutput:
        if quiet and json:
            raise RecipeError("--quiet and --json exclude each other: give one")
        return cls("quiet" if quiet else "json" if json else "text")

    @contextmanager
    def session(self) -> Iterator[None]:
        """With ``--json``, anything else written to stdout (a trial's or Ray's output
        forwarded to the driver, a data loader's prints) goes to stderr instead."""
        if self.mode != "json":
            yield
            return
        with redirect_stdout(sys.stderr):
            yield

    def callbacks(
        self, prepared: Prepared, experiment: str, title: str, stopped_early: set[str]
    ) -> list[Callback]:
        """The callbacks that show one experiment's run; first, unless quiet, what preparing
        it changed in its recipe."""
        if self.mode != "quiet":
            print_notes(note for note in prepared.notes if note not in self.noted)
            self.noted.update(prepared.notes)
        if self.mode == "json":
            return [JsonEvents(experiment, stopped_early, self.stdout)]
        if self.mode == "quiet":
            return []
        total = total_trials(prepared.plan)
        objective = prepared.recipe.objective
        return [ProgressView(total, objective, stopped_early, title=title)]

    def stage(self, run: StageRun) -> None:
        if self.mode == "json":
            write_event(
                self.stdout,
                "stage_finished",
                stage=run.stage,
                experiment=run.experiment,
                trials=run.summary.trials,
                best=_best(run.summary.best),
                warm_started_from=run.warm_started_from,
            )
        elif self.mode == "text":
            Console().print(stage_line(run), highlight=False, soft_wrap=True)

    def nested(self, experiment: str, metric: str, scores: list[float]) -> None:
        if self.mode == "json":
            write_event(
                self.stdout,
                "nested_estimate",
                experiment=experiment,
                metric=metric,
                mean=statistics.fmean(scores),
                std=statistics.pstdev(scores),
                outer_scores=scores,
            )
        elif self.mode == "text":
            Console().print(nested_line(metric, scores), highlight=False, soft_wrap=True)

    def finished(self, summary: RunSummary, metric: str) -> None:
        stopped = summary.stopped_by
        if self.mode == "json" and stopped is not None:
            write_event(
                self.stdout,
                "study_stopped",
                experiment=summary.location.name,
                **dataclasses.asdict(stopped),
            )
        if self.mode == "json":
            location = summary.location
            write_event(
                self.stdout,
                "run_finished",
                experiment=location.name,
                status=summary.status,
                trials=summary.trials,
                stopped_early=summary.stopped_early,
                errored=summary.errored,
                rows=summary.rows,
                wall_time_s=summary.wall_time_s,
                best=_best(summary.best),
                path=f"{location.storage.display}/{location.name}",
            )
        elif self.mode == "text":
            print_summary(Console(), summary, metric)


def print_notes(notes: Iterable[str]) -> None:
    """Say on stderr, once each, what preparing changed in a recipe (``Prepared.notes``)."""
    console = Console(stderr=True)
    for note in dict.fromkeys(notes):
        console.print(f"note: {note}", highlight=False, soft_wrap=True)


def _best(best: BestTrial | None) -> dict[str, Any] | None:
    return None if best is None else dataclasses.asdict(best)


def stage_line(run: StageRun) -> str:
    best = run.summary.best
    score = "no score" if best is None else f"best {best.metric} {best.score:.4f}"
    warm = f", warm-started from {run.warm_started_from}" if run.warm_started_from else ""
    return f"stage {run.stage} ({run.experiment}): {run.summary.trials} trials, {score}{warm}"


def nested_line(metric: str, scores: list[float]) -> str:
    mean, std = statistics.fmean(scores), statistics.pstdev(scores)
    return (
        f"nested CV estimate of the tuning procedure: {metric} {mean:.4f} ± {std:.4f} "
        f"over {len(scores)} outer folds"
    )


def stopped_line(verdict: Verdict) -> str:
    return f"stopped by stop.{verdict.rule} after {verdict.trials} trials: {verdict.reason}"


def print_summary(console: Console, summary: RunSummary, metric: str) -> None:
    if summary.stopped_by is not None:
        console.print(stopped_line(summary.stopped_by), highlight=False, soft_wrap=True)
    best = summary.best
    if best is None:
        console.print(f"no trial reported {metric}", highlight=False)
    else:
        console.print(
            f"best {best.metric} {best.score:.4f} · trial {best.trial_id} · "
            f"{config_text(best.config)}",
            highlight=False,
            soft_wrap=True,
        )
    console.print(
        f"{summary.trials} trials ({summary.stopped_early} stopped early, "
        f"{summary.errored} errored) in {summary.wall_time_s:.1f} s · {summary.rows} rows in "
        f"{summary.location.storage.display}/{summary.location.name}",
        highlight=False,
        soft_wrap=True,
    )
