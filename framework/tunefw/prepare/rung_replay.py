"""ASHA's rungs rebuilt from the stored results, so a resumed run stops what a whole run would.

Each finished trial's results are fed to a fresh ``AsyncHyperBandScheduler`` as Ray Tune fed
them the first time: added, reported iteration by iteration until ASHA stopped it, completed.
Trials that never finished are left out: their reruns report again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ray.tune.schedulers import AsyncHyperBandScheduler, TrialScheduler

from tunefw import compat
from tunefw.store.history import StoredTrial

TIME_ATTR = "training_iteration"


@dataclass(frozen=True)
class _StoredAsTrial:
    """What Ray's ASHA reads of a trial: its id."""

    trial_id: str


def replay_results(
    scheduler: AsyncHyperBandScheduler,
    trials: Sequence[StoredTrial],
    metric: str,
    rungs_class: type[AsyncHyperBandScheduler] = AsyncHyperBandScheduler,
) -> None:
    """Record every finished trial's stored results in ``scheduler``'s rungs.

    The methods of ``rungs_class`` (Ray's ASHA, or MO-ASHA) are called, not the recording
    subclass's: replaying records no early stop and schedules nothing.
    """
    for trial in trials:
        if not trial.finished or trial.last_result is None:
            continue
        stub = _StoredAsTrial(trial.trial_id)
        rungs_class.on_trial_add(scheduler, None, stub)  # type: ignore[arg-type]
        last: dict[str, Any] = {}
        for iteration, metrics in zip(trial.iterations, trial.results, strict=True):
            value = metrics.get(metric)
            if iteration <= 0 or not isinstance(value, (int, float)):
                continue
            last = {**metrics, TIME_ATTR: iteration}
            action = rungs_class.on_trial_result(scheduler, None, stub, last)  # type: ignore[arg-type]
            if action == TrialScheduler.STOP:
                break
        rungs_class.on_trial_complete(scheduler, None, stub, last)  # type: ignore[arg-type]


class ReplaysStoredResults:
    """For an ASHA scheduler: the stored trials in ``replayed`` are fed to its rungs once Ray
    Tune has given it the metric and mode (it refuses them in the constructor too), through
    the methods of ``rungs_class``."""

    replayed: Sequence[StoredTrial] = ()
    rungs_class: type[AsyncHyperBandScheduler] = AsyncHyperBandScheduler

    def set_search_properties(self, metric: str | None, mode: str | None, **spec: object) -> bool:
        accepted: bool = super().set_search_properties(metric, mode, **spec)  # type: ignore[misc]
        if accepted and self.replayed:
            scheduler: AsyncHyperBandScheduler = self  # type: ignore[assignment]
            metric = str(compat.ASHA_METRIC.of(scheduler))
            replay_results(scheduler, self.replayed, metric, self.rungs_class)
            self.replayed = ()
        return accepted
