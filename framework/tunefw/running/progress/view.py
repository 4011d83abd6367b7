"""``ProgressView``: a Ray Tune callback showing a run as it goes.

On a terminal, a rich live view (bar and ETA, counts, best trial, top trials) redrawn in place
by rich's refresh thread, at most ``refresh_per_second`` times a second; elsewhere (CI, a pipe),
a plain line every ``interval`` seconds and one at the end. The hooks only update a
``RunState`` under a lock, so a result costs the same however often it comes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Container, Mapping
from functools import partial
from typing import Any

from ray.tune.experiment import Trial
from rich.console import Console, RenderableType
from rich.live import Live

from tunefw.prepare.pack_payload import pack_of
from tunefw.recipe.objective import Objective
from tunefw.running.progress.render import LiveRender, plain_line
from tunefw.running.progress.state import RunState, Snapshot
from tunefw.running.trial_events import TrialEvents
from tunefw.store import columns as col

TOP = 5


class ProgressView(TrialEvents):
    """Live on a terminal, plain log lines otherwise; ``title`` is printed first."""

    def __init__(
        self,
        total: int,
        objective: Objective,
        early_stopped: Container[str],
        console: Console | None = None,
        *,
        title: str = "",
        interval: float = 10.0,
        refresh_per_second: float = 4.0,
    ) -> None:
        super().__init__(early_stopped)
        self.objective = objective
        self.console = console or Console(stderr=True)
        self.title = title
        self.interval = interval
        self.refresh_per_second = refresh_per_second
        self.state = RunState(total, objective)
        self._lock = threading.Lock()
        self._live: Live | None = None
        self._last_line = 0.0
        self._seeded = False

    def __reduce__(self) -> tuple[Any, ...]:
        """Ray Tune pickles its callbacks with the experiment; a console, a lock and a live
        display do not pickle, so the copy is a new view with the same settings."""
        new = partial(
            ProgressView,
            title=self.title,
            interval=self.interval,
            refresh_per_second=self.refresh_per_second,
        )
        return (new, (self.state.total, self.objective, self.early_stopped))

    def snapshot(self) -> Snapshot:
        with self._lock:
            return self.state.snapshot(TOP)

    def setup(
        self,
        stop: Any = None,
        num_samples: int | None = None,
        total_num_samples: int | None = None,
        **info: Any,
    ) -> None:
        self.state = RunState(total_num_samples or self.state.total, self.objective)
        self._seeded = False
        if self.title:
            self.console.print(self.title, highlight=False, soft_wrap=True)
        if self.console.is_terminal:
            render = LiveRender(self.objective.metric)
            self._live = Live(
                console=self.console,
                refresh_per_second=self.refresh_per_second,
                get_renderable=lambda: self._render(render),
            )
            self._live.start()
        else:
            self._last_line = time.monotonic()

    def _render(self, render: LiveRender) -> RenderableType:
        return render(self.snapshot())

    def _maybe_print(self) -> None:
        if self._live is None and time.monotonic() - self._last_line >= self.interval:
            self._print_line()

    def _print_line(self) -> None:
        line = plain_line(self.snapshot(), self.objective.metric)
        self.console.print(line, highlight=False, soft_wrap=True)
        self._last_line = time.monotonic()

    def on_step_begin(self, iteration: int, trials: list[Trial], **info: Any) -> None:
        """Once: count the trials a resumed experiment had already finished."""
        if self._seeded:
            return
        self._seeded = True
        with self._lock:
            for trial in trials:  # a finished pack's configs are not counted again
                if trial.status in (Trial.TERMINATED, Trial.ERROR) and not pack_of(trial.config):
                    self.state.result(trial.trial_id, trial.config, trial.last_result or {})
                    status = col.TERMINATED if trial.status == Trial.TERMINATED else col.ERRORED
                    self.state.finish(trial.trial_id, status, trial.config)

    def trial_started(self, trial_id: str, config: Mapping[str, Any]) -> None:
        with self._lock:
            self.state.start(trial_id, config)
        self._maybe_print()

    def trial_reported(
        self, trial_id: str, config: Mapping[str, Any], result: Mapping[str, Any]
    ) -> None:
        with self._lock:
            self.state.result(trial_id, config, result)
        self._maybe_print()

    def trial_ended(
        self, trial_id: str, config: Mapping[str, Any], status: str, error: str | None
    ) -> None:
        with self._lock:
            self.state.finish(trial_id, status, config)
        self._maybe_print()

    def on_experiment_end(self, trials: list[Trial], **info: Any) -> None:
        if self._live is not None:
            self._live.stop()  # draws the final state once more
            self._live = None
        else:
            self._print_line()
