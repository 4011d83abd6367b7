"""The trial scheduler a recipe asks for, and the pairings with searches it refuses.

Every scheduler here records the trials it stops before their end, because Ray Tune reports
a trial stopped by the scheduler exactly like one that finished; the result store needs to
tell them apart.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ray.tune.experiment import Trial
from ray.tune.schedulers import (
    AsyncHyperBandScheduler,
    FIFOScheduler,
    HyperBandForBOHB,
    HyperBandScheduler,
    MedianStoppingRule,
    PopulationBasedTraining,
    TrialScheduler,
)

from tunefw import compat
from tunefw.prepare.pareto_asha import ParetoASHA
from tunefw.prepare.rung_replay import ReplaysStoredResults
from tunefw.recipe.objective import Objective
from tunefw.recipe.space import Constant, Grid, ParamSpec, Range

if TYPE_CHECKING:  # the sections import this module to build, so not the other way round
    from tunefw.recipe.scheduler_sections import (
        Asha,
        Bohb,
        HyperBand,
        Median,
        Pbt,
        SchedulerSection,
    )

TIME_ATTR = "training_iteration"


class _RecordsEarlyStops(TrialScheduler):
    """Adds to ``stopped_early`` every trial stopped (or dropped while paused) before
    ``stop_before`` iterations."""

    stopped_early: set[str]
    stop_before: float

    def on_trial_result(self, tune_controller: Any, trial: Any, result: dict[str, Any]) -> str:
        decision: str = super().on_trial_result(tune_controller, trial, result)
        if decision == TrialScheduler.STOP:
            self._record(trial.trial_id, result)
        return decision

    def on_trial_remove(self, tune_controller: Any, trial: Any) -> None:
        self._record(trial.trial_id, trial.last_result or {})
        super().on_trial_remove(tune_controller, trial)

    def _record(self, trial_id: str, result: Mapping[str, Any]) -> None:
        if result.get(TIME_ATTR, 0) < self.stop_before:
            self.stopped_early.add(trial_id)


class EndsWithTheStudy(TrialScheduler):
    """Once the study is over (``study_over``: a stop rule fired, the budget is spent), a
    running trial stops at its next rung instead of training on to ``max_t``: no new trial
    will compete with it there, and the rung is where the halving would judge it anyway.
    Below ``_RecordsEarlyStops`` in a class's bases, so such a stop is stored as early."""

    study_over: Callable[[], bool] = staticmethod(lambda: False)

    def on_trial_result(self, tune_controller: Any, trial: Any, result: dict[str, Any]) -> str:
        decision: str = super().on_trial_result(tune_controller, trial, result)
        if decision == TrialScheduler.CONTINUE and self.study_over():
            milestones = {milestone for milestone, _ in compat.asha_rungs(self)}
            if result.get(TIME_ATTR) in milestones:
                return TrialScheduler.STOP
        return decision


class _SkipsFinishedTrials:
    """``choose_trial_to_run`` as Ray's FIFO has it (the first pending trial, else the first
    paused one), without rescanning the finished trials at the front of the trial list.

    Ray's scans every trial of the experiment on every scheduling step, so each new trial
    cost more than the last (O(trials) per step). Trials only ever leave the front by
    finishing for good (ERROR and TERMINATED are final; a retried trial moves to the back),
    so the finished prefix can be skipped once and for all.
    """

    _finished_prefix = 0

    def choose_trial_to_run(self, tune_controller: Any) -> Any:
        trials = tune_controller.get_trials()
        start = self._finished_prefix
        while start < len(trials) and trials[start].is_finished():
            start += 1
        self._finished_prefix = start
        for wanted in (Trial.PENDING, Trial.PAUSED):
            for index in range(start, len(trials)):
                if trials[index].status == wanted:
                    return trials[index]
        return None


class Fifo(_SkipsFinishedTrials, FIFOScheduler):
    pass


class RecordingASHA(
    ReplaysStoredResults,
    _RecordsEarlyStops,
    EndsWithTheStudy,
    _SkipsFinishedTrials,
    AsyncHyperBandScheduler,
):
    pass


class RecordingParetoASHA(
    ReplaysStoredResults, _RecordsEarlyStops, EndsWithTheStudy, _SkipsFinishedTrials, ParetoASHA
):
    rungs_class = ParetoASHA


class _HalvesStalledBrackets(HyperBandScheduler):
    """Ray 2.60's HyperBand halves a bracket when a trial reports at its rung, or leaves it
    while the bracket is neither finished nor marked busy (marked at its first halving and
    never cleared). A trial whose last result comes with its end (its function returned) is
    a leave, so a bracket whose last running trial ended that way was never halved, nor
    ended at ``max_t``, and its paused trials waited forever: a run that hung. Ray's BOHB
    halves its brackets with paused trials again once no trial runs; so does this."""

    def choose_trial_to_run(self, tune_controller: Any) -> Trial | None:
        chosen = super().choose_trial_to_run(tune_controller)
        live = tune_controller.get_live_trials()  # not every trial: this runs each step
        if chosen is not None or any(t.status == Trial.RUNNING for t in live):
            return chosen
        bands = compat.HYPERBAND_BRACKETS.of(self)
        for bracket in (b for band in bands for b in band if b is not None):
            statuses = {t.status for t in bracket.current_trials()}
            if Trial.PAUSED in statuses and Trial.PENDING not in statuses:
                compat.HYPERBAND_HALVE.of(self)(tune_controller, bracket)
        return super().choose_trial_to_run(tune_controller)


class RecordingHyperBand(_RecordsEarlyStops, _HalvesStalledBrackets):
    pass


class RecordingBOHB(_RecordsEarlyStops, HyperBandForBOHB):
    pass


class RecordingMedian(_RecordsEarlyStops, _SkipsFinishedTrials, MedianStoppingRule):
    pass


class KeepInSpace:
    """PBT's explore step, after Ray's: perturbed values are clipped back into their ranges
    (Ray multiplies by 0.8 or 1.2 and does not look at the bounds) and keep their step."""

    def __init__(self, space: Mapping[str, ParamSpec]) -> None:
        self.ranges = {n: s for n, s in space.items() if isinstance(s, Range)}

    def __call__(self, config: dict[str, Any]) -> dict[str, Any]:
        for name, spec in self.ranges.items():
            if name in config:
                config[name] = spec.nearest(config[name])
        return config


def _recording(scheduler: _RecordsEarlyStops, stopped_early: set[str], before: float) -> Any:
    scheduler.stopped_early = stopped_early
    scheduler.stop_before = before
    return scheduler


def build_scheduler(
    section: SchedulerSection,
    stopped_early: set[str],
    space: Mapping[str, ParamSpec],
    objective: Objective,
) -> TrialScheduler:
    """The section's scheduler; ids of trials it stops early are added to ``stopped_early``.

    Metric and mode come from ``TuneConfig``; Ray refuses them in both places.
    """
    return section.build(stopped_early, space, objective)


def asha(section: Asha, stopped_early: set[str], objective: Objective) -> TrialScheduler:
    halving: dict[str, Any] = {
        "time_attr": TIME_ATTR,
        "max_t": section.max_t,
        "grace_period": section.grace_period,
        "reduction_factor": section.reduction_factor,
    }
    scheduler = (
        RecordingParetoASHA(objective, **halving) if objective.multi else RecordingASHA(**halving)
    )
    return _recording(scheduler, stopped_early, section.max_t)  # type: ignore[no-any-return]


def hyperband(section: HyperBand | Bohb, stopped_early: set[str], bohb: bool) -> TrialScheduler:
    cls = RecordingBOHB if bohb else RecordingHyperBand
    bracketed = cls(
        time_attr=TIME_ATTR, max_t=section.max_t, reduction_factor=section.reduction_factor
    )
    return _recording(bracketed, stopped_early, section.max_t)  # type: ignore[no-any-return]


def median(section: Median, stopped_early: set[str]) -> TrialScheduler:
    scheduler = RecordingMedian(
        time_attr=TIME_ATTR,
        grace_period=section.grace_period,
        min_samples_required=section.min_samples_required,
    )
    return _recording(scheduler, stopped_early, math.inf)  # type: ignore[no-any-return]


def pbt(section: Pbt, space: Mapping[str, ParamSpec]) -> TrialScheduler:
    return PopulationBasedTraining(
        time_attr=TIME_ATTR,
        perturbation_interval=section.perturbation_interval,
        hyperparam_mutations={
            name: spec.domain()
            for name, spec in space.items()
            if not isinstance(spec, (Constant, Grid))
        },
        quantile_fraction=section.quantile_fraction,
        resample_probability=section.resample_probability,
        custom_explore_fn=KeepInSpace(space),
    )
