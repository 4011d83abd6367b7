"""The trial scheduler a recipe asks for: ASHA by default, or none (run every trial out)."""

from __future__ import annotations

from typing import Any

from ray.tune.schedulers import AsyncHyperBandScheduler, FIFOScheduler, TrialScheduler

from tunefw.recipe import SchedulerSection


class RecordingASHA(AsyncHyperBandScheduler):
    """ASHA that remembers which trials it stopped before ``max_t``.

    Ray Tune reports a trial stopped by the scheduler exactly like one that finished; the
    result store needs to tell them apart.
    """

    def __init__(self, max_t: int, stopped_early: set[str], **kwargs: Any) -> None:
        super().__init__(max_t=max_t, **kwargs)
        self.stopped_early = stopped_early
        self._stop_before = max_t

    def on_trial_result(self, tune_controller: Any, trial: Any, result: dict[str, Any]) -> str:
        decision: str = super().on_trial_result(tune_controller, trial, result)
        reached = result.get("training_iteration", 0)
        if decision == TrialScheduler.STOP and reached < self._stop_before:
            self.stopped_early.add(trial.trial_id)
        return decision


def build_scheduler(section: SchedulerSection, stopped_early: set[str]) -> TrialScheduler:
    """The scheduler; ids of trials it stops early are added to ``stopped_early``.

    Metric and mode come from ``TuneConfig``; Ray refuses them in both places.
    """
    if section.type == "none":
        return FIFOScheduler()  # type: ignore[no-untyped-call]
    return RecordingASHA(
        time_attr="training_iteration",
        max_t=section.max_t,
        stopped_early=stopped_early,
        grace_period=section.grace_period,
        reduction_factor=section.reduction_factor,
    )
