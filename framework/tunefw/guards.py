"""Stop the whole experiment when a trial shows the recipe itself is wrong."""

from __future__ import annotations

import re
from typing import Any

from ray.tune import Callback, Stopper
from ray.tune.experiment import Trial

from tunefw.errors import MetricError
from tunefw.store.writer import trial_error_text

_METRIC_ERROR = re.compile(rf"{MetricError.__name__}: (.+)")


class MetricGuard(Callback, Stopper):
    """Ends the run once a trial fails because it never reports the objective's metric.

    Every other trial would fail the same way, so going on only wastes the budget.
    """

    def __init__(self) -> None:
        self.message: str | None = None

    def on_trial_error(
        self, iteration: int, trials: list[Trial], trial: Trial, **info: Any
    ) -> None:
        found = _METRIC_ERROR.findall(trial_error_text(trial))
        if found and self.message is None:
            self.message = found[-1].strip()

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        return False

    def stop_all(self) -> bool:
        return self.message is not None
