"""A run's budget: once its wall time, CPU-hours or GPU-hours are spent, no new trial starts;
the trials already running finish.

``BudgetMeter`` is a Ray Tune callback that adds up what running trials hold (their CPUs and
GPUs times the running time they report); ``Budgeted`` wraps the run's search algorithm and
stops handing out trials once the meter says the budget is spent.
"""

from __future__ import annotations

import time
from typing import Any

from ray import tune
from ray.tune.search import ConcurrencyLimiter, SearchAlgorithm, Searcher, SearchGenerator

from tunefw.recipe import Budget


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


class Budgeted(SearchAlgorithm):
    """A search algorithm that starts no trial once ``meter`` says the budget is spent."""

    def __init__(self, inner: SearchAlgorithm, meter: BudgetMeter) -> None:
        self.inner = inner
        self.meter = meter

    def __getattr__(self, name: str) -> Any:  # e.g. ``searcher``, which BOHB pauses through
        return getattr(self.__dict__["inner"], name)

    @property
    def metric(self) -> Any:
        return self.inner.metric

    @property
    def total_samples(self) -> int:
        return int(self.inner.total_samples)

    def set_search_properties(
        self, metric: Any, mode: Any, config: dict[str, Any], **spec: Any
    ) -> bool:
        return bool(self.inner.set_search_properties(metric, mode, config, **spec))

    def add_configurations(self, experiments: Any) -> None:
        self.inner.add_configurations(experiments)

    def next_trial(self) -> Any:
        if self.meter.spent():
            return None
        return self.inner.next_trial()

    def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
        self.inner.on_trial_result(trial_id, result)

    def on_trial_complete(
        self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False
    ) -> None:
        self.inner.on_trial_complete(trial_id, result=result, error=error)

    def is_finished(self) -> bool:
        return bool(self.meter.spent()) or bool(self.inner.is_finished())

    def set_finished(self) -> None:
        self.inner.set_finished()  # type: ignore[no-untyped-call]

    def has_checkpoint(self, dirpath: str) -> bool:
        return bool(self.inner.has_checkpoint(dirpath))

    def save_to_dir(self, dirpath: str, **kwargs: Any) -> None:
        self.inner.save_to_dir(dirpath, **kwargs)

    def restore_from_dir(self, dirpath: str) -> None:
        self.inner.restore_from_dir(dirpath)


def budgeted(search_alg: Any, max_concurrent: int | None, meter: BudgetMeter) -> Budgeted:
    """``search_alg`` as Ray Tune would wrap it (a limited Searcher becomes a generator),
    then budgeted."""
    if isinstance(search_alg, Searcher):
        limited = ConcurrencyLimiter(search_alg, max_concurrent) if max_concurrent else search_alg
        search_alg = SearchGenerator(limited)
    return Budgeted(search_alg, meter)
