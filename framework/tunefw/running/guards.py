"""Stop the whole experiment when going on cannot help: the recipe or the storage is wrong."""

from __future__ import annotations

import re
from typing import Any

from ray.tune import Callback, Stopper
from ray.tune.experiment import Trial

from tunefw.errors import MetricError, TunefwError
from tunefw.running.trial_errors import trial_error_text

_METRIC_ERROR = re.compile(rf"{MetricError.__name__}: (.+)")


class RunGuard(Callback, Stopper):
    """A stopper that ends the run on the first fatal error, which the runner then raises.

    Fatal: a trial failing because it never reports the objective's metric (every other trial
    would fail the same way), or the result store refusing a write.
    """

    def __init__(self) -> None:
        self.error: TunefwError | None = None

    def abort(self, error: TunefwError) -> None:
        if self.error is None:
            self.error = error

    def on_trial_error(
        self, iteration: int, trials: list[Trial], trial: Trial, **info: Any
    ) -> None:
        found = _METRIC_ERROR.findall(trial_error_text(trial))
        if found:
            self.abort(MetricError(found[-1].strip()))

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        return False

    def stop_all(self) -> bool:
        return self.error is not None
