"""A run's budget: once its wall time, CPU-hours or GPU-hours are spent, no new trial starts;
the trials already running finish (under ASHA, at their next rung: ``EndsWithTheStudy``).

``BudgetMeter`` is a Ray Tune callback that adds up what running trials hold (their CPUs and
GPUs times the running time they report); as a start gate (``tunefw.running.start_gate``) it closes
once the budget is spent.
"""

from __future__ import annotations

import time
from typing import Any

from ray import tune

from tunefw.recipe.schema import Budget


class BudgetMeter(tune.Callback):
    """What the run has spent so far: wall seconds, CPU-seconds and GPU-seconds."""

    def __init__(self, budget: Budget, resources: dict[str, float]) -> None:
        self.budget = budget
        self.resources = resources
        self.started = time.monotonic()
        self.cpu_s = 0.0
        self.gpu_s = 0.0
        self._seen: dict[str, float] = {}
        self.exhausted: str | None = None

    def setup(
        self,
        stop: Any = None,
        num_samples: int | None = None,
        total_num_samples: int | None = None,
        **info: Any,
    ) -> None:
        self.started = time.monotonic()

    def on_trial_result(
        self, iteration: int, trials: list[Any], trial: Any, result: dict[str, Any], **info: Any
    ) -> None:
        total = float(result.get("time_total_s") or 0.0)
        delta = max(0.0, total - self._seen.get(trial.trial_id, 0.0))
        self._seen[trial.trial_id] = total
        self.cpu_s += delta * self.resources.get("cpu", 0.0)
        self.gpu_s += delta * self.resources.get("gpu", 0.0)

    def spent(self) -> str | None:
        """The first limit reached (``wall_time_s``, ``cpu_hours``, ``gpu_hours``), or None."""
        if self.exhausted is None:
            b = self.budget
            if b.wall_time_s is not None and time.monotonic() - self.started >= b.wall_time_s:
                self.exhausted = "wall_time_s"
            elif b.cpu_hours is not None and self.cpu_s >= b.cpu_hours * 3600:
                self.exhausted = "cpu_hours"
            elif b.gpu_hours is not None and self.gpu_s >= b.gpu_hours * 3600:
                self.exhausted = "gpu_hours"
        return self.exhausted

    def closed(self) -> str | None:
        """The limit that closed the gate: ``budget.wall_time_s`` and the like."""
        spent = self.spent()
        return None if spent is None else f"budget.{spent}"
