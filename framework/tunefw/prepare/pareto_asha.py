"""Multi-objective ASHA (Schmucker et al., "Multi-objective asynchronous successive halving",
2021): at each rung a trial goes on only if it ranks in the top ``1/reduction_factor`` of the
trials recorded there, ranked by non-dominated sorting and then crowding distance.

It is Ray Tune's ``AsyncHyperBandScheduler`` with the scalar reward replaced by the vector of
objectives: the same brackets, rungs and milestones. Constraints count as in ``best``'s
ranking: a trial breaking one ranks after every feasible trial, the least violating first.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from ray.tune.schedulers import AsyncHyperBandScheduler, TrialScheduler

from tunefw import compat
from tunefw.recipe.objective import Objective
from tunefw.store.pareto import rank_keys

TIME_ATTR = "training_iteration"


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


class ParetoASHA(AsyncHyperBandScheduler):
    """ASHA ranking by every objective of ``objective``."""

    def __init__(self, objective: Objective, **asha: Any) -> None:
        super().__init__(**asha)
        compat.check(self, [*compat.ASHA_LIMITS, compat.ASHA_TRIAL_BRACKET])
        self.objective = objective

    def _point(self, result: dict[str, Any]) -> np.ndarray | None:
        """The result's objectives to minimise, then its total constraint violation; None if
        it lacks one."""
        values = [_number(result.get(m)) for m in self.objective.targets]
        if any(v is None for v in values):
            return None
        modes = self.objective.targets.values()
        signed = [v if mode == "min" else -v for v, mode in zip(values, modes, strict=True)]  # type: ignore[operator]
        violation = sum(
            max(c.violation(_number(result.get(c.metric))), 0.0) for c in self.objective.constraints
        )
        return np.array([*signed, violation])

    def on_trial_result(self, tune_controller: Any, trial: Any, result: dict[str, Any]) -> str:
        point = self._point(result)
        if TIME_ATTR not in result or point is None:
            return TrialScheduler.CONTINUE
        if result[TIME_ATTR] >= self._max_t and self._stop_last_trials:
            action = TrialScheduler.STOP
        else:
            action = self._at_rung(trial.trial_id, result[TIME_ATTR], point)
        if action == TrialScheduler.STOP:
            self._num_stopped += 1
        return action

    def on_trial_complete(self, tune_controller: Any, trial: Any, result: dict[str, Any]) -> None:
        point = self._point(result)
        if TIME_ATTR in result and point is not None:
            self._at_rung(trial.trial_id, result[TIME_ATTR], point)
        self._trial_info.pop(trial.trial_id, None)

    def _at_rung(self, trial_id: str, iteration: float, point: np.ndarray) -> str:
        """Record ``point`` at the first rung ``trial_id`` has reached and not yet passed;
        STOP unless it ranks in the rung's top fraction."""
        bracket = self._trial_info[trial_id]
        for milestone, recorded in compat.BRACKET_RUNGS.of(bracket):
            if iteration < milestone or trial_id in recorded:
                continue
            promoted = promotable(list(recorded.values()), point, bracket.rf)
            recorded[trial_id] = point
            return TrialScheduler.CONTINUE if promoted else TrialScheduler.STOP
        return TrialScheduler.CONTINUE


def promotable(recorded: list[np.ndarray], point: np.ndarray, reduction_factor: float) -> bool:
    """Whether ``point`` ranks among the top ``1/reduction_factor`` of the points recorded at
    a rung: no more than ``len(recorded) / reduction_factor`` of them strictly ahead of it
    (a tie goes on, as a scalar ASHA's result equal to its rung's percentile does)."""
    if not recorded:
        return True
    points = np.vstack([*recorded, point])
    keys = rank_keys(points[:, :-1], points[:, -1])
    mine = keys[-1]
    ahead = sum(key < mine for key in keys[:-1])
    return ahead <= len(recorded) / reduction_factor
