"""A one-line view of a running experiment: done, running, stopped early, errored, best."""

from __future__ import annotations

import time
from collections.abc import Container
from typing import Any

from ray.tune import Callback
from ray.tune.experiment import Trial
from rich.console import Console
from rich.live import Live
from rich.text import Text

from tunefw.objective import Mode


class ProgressLine(Callback):
    """Redrawn in place on a terminal; a plain log line every ``interval`` seconds otherwise."""

    def __init__(
        self,
        total: int,
        metric: str,
        mode: Mode,
        early_stopped: Container[str],
        console: Console | None = None,
        interval: float = 10.0,
        title: str = "",
    ) -> None:
        self.title = title
        self.total = total
        self.metric = metric
        self.mode = mode
        self.early_stopped = early_stopped
        self.console = console or Console(stderr=True)
        self.interval = interval
        self.done = 0
        self.errored = 0
        self.stopped = 0
        self.best: float | None = None
        self._started: set[str] = set()
        self._latest: dict[str, float] = {}
        self._live: Live | None = None
        self._last_print = 0.0

    def __getstate__(self) -> dict[str, Any]:
        """Ray Tune pickles its callbacks with the experiment; a console does not pickle."""
        return {**self.__dict__, "console": None, "_live": None}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.console = Console(stderr=True)

    def line(self) -> str:
        running = len(self._started) - self.done
        best = "-" if self.best is None else f"{self.best:.4f}"
        return (
            f"trials {self.done}/{self.total} done · {running} running · "
            f"{self.stopped} stopped early · {self.errored} errored · best {self.metric} {best}"
        )

    def setup(
        self,
        stop: Any = None,
        num_samples: int | None = None,
        total_num_samples: int | None = None,
        **info: Any,
    ) -> None:
        self.total = total_num_samples or self.total
        if self.title:
            self.console.print(self.title, highlight=False, soft_wrap=True)
        if self.console.is_terminal:
            self._live = Live(Text(self.line()), console=self.console, refresh_per_second=4)
            self._live.start()

    def _refresh(self, force: bool = False) -> None:
        if self._live is not None:
            self._live.update(Text(self.line()))
        elif force or time.monotonic() - self._last_print >= self.interval:
            self.console.print(self.line(), highlight=False, soft_wrap=True)
            self._last_print = time.monotonic()

    def on_trial_start(
        self, iteration: int, trials: list[Trial], trial: Trial, **info: Any
    ) -> None:
        self._started.add(trial.trial_id)
        self._refresh()

    def on_trial_result(
        self, iteration: int, trials: list[Trial], trial: Trial, result: dict[str, Any], **info: Any
    ) -> None:
        value = result.get(self.metric)
        if isinstance(value, (int, float)):
            self._latest[trial.trial_id] = float(value)
        self._refresh()

    def on_trial_complete(
        self, iteration: int, trials: list[Trial], trial: Trial, **info: Any
    ) -> None:
        self.done += 1
        if trial.trial_id in self.early_stopped:
            self.stopped += 1
        else:
            value = self._latest.get(trial.trial_id)
            if value is not None and (self.best is None or self._better(value, self.best)):
                self.best = value
        self._refresh()

    def on_trial_error(
        self, iteration: int, trials: list[Trial], trial: Trial, **info: Any
    ) -> None:
        self.done += 1
        self.errored += 1
        self._refresh()

    def _better(self, a: float, b: float) -> bool:
        return a > b if self.mode == "max" else a < b

    def on_experiment_end(self, trials: list[Trial], **info: Any) -> None:
        if self._live is not None:
            self._live.update(Text(self.line()))
            self._live.stop()
            self._live = None
        else:
            self._refresh(force=True)
