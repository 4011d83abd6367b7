"""Each stop rule as a judge that looks at the evidence after every finished trial.

A judge keeps what it needs from one trial to the next (plateau's best and count, the Pareto
front), so the evidence is read once, in order, whether live or replayed from the store on
resume; the same evidence gives the same verdict at the same trial.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from tunefw.recipe.objective import Objective
from tunefw.recipe.space import ParamSpec
from tunefw.recipe.stop_sections import Converged, Plateau, StopSection, Target
from tunefw.running.stopping.encoding import UnitEncoding
from tunefw.running.stopping.evidence import Evidence, FinishedTrial, fold_noise, fold_scores
from tunefw.running.stopping.regret import CANDIDATES, regret_bound

GP_TRIALS = 200
"""The most trials the regret bound's GP is fitted on (the best ones): its cost grows with the
cube of this."""


@dataclass(frozen=True)
class Verdict:
    """A rule that fired: after how many finished trials, on which one, why, and the
    estimates it used."""

    rule: str
    trials: int
    trial_id: str
    reason: str
    estimates: dict[str, Any] = field(default_factory=dict)


class Judge(Protocol):
    def after(self, evidence: Evidence, trial: FinishedTrial) -> Verdict | None:
        """The verdict once ``trial``, the latest in ``evidence``, has finished."""
        ...


class TargetJudge:
    def __init__(self, rule: Target, objective: Objective) -> None:
        self.metric = rule.metric or objective.metric
        self.value = rule.value
        self.maximise = objective.targets[self.metric] == "max"

    def after(self, evidence: Evidence, trial: FinishedTrial) -> Verdict | None:
        value = trial.value(self.metric)
        if not evidence.scored(trial) or value is None:
            return None
        if (value >= self.value) if self.maximise else (value <= self.value):
            word = "at least" if self.maximise else "at most"
            return Verdict(
                "target",
                len(evidence.trials),
                trial.trial_id,
                f"{self.metric} reached {value:.6g}, {word} the target {self.value:g}",
                {"metric": self.metric, "target": self.value, "value": value},
            )
        return None


class PlateauJudge:
    """Counts the finished trials since the best last improved by more than ``min_delta``
    (several objectives: since a trial last joined the Pareto front)."""

    def __init__(self, rule: Plateau, objective: Objective) -> None:
        self.rule = rule
        self.metrics = list(objective.targets)
        self.front: list[np.ndarray] = []
        self.since = 0

    def _improves(self, point: np.ndarray) -> bool:
        if not self.front:
            return True
        if len(point) == 1:
            return bool(point[0] > self.front[0][0] + self.rule.min_delta)
        return not any(np.all(p >= point) for p in self.front)

    def _admit(self, point: np.ndarray) -> None:
        if len(point) == 1:
            self.front = [point]
        else:
            kept = [p for p in self.front if not (np.all(point >= p) and np.any(point > p))]
            self.front = [*kept, point]

    def after(self, evidence: Evidence, trial: FinishedTrial) -> Verdict | None:
        if evidence.scored(trial):
            point = np.array([evidence.signed(trial, m) for m in self.metrics])
            if self._improves(point):
                self._admit(point)
                self.since = 0
                return None
        self.since += 1
        if self.front and self.since >= self.rule.patience:
            what = (
                f"the best {self.metrics[0]} moved by at most {self.rule.min_delta:g}"
                if len(self.metrics) == 1
                else "no trial joined the Pareto front"
            )
            return Verdict(
                "plateau",
                len(evidence.trials),
                trial.trial_id,
                f"{what} over the last {self.since} finished trials",
                {"patience": self.rule.patience, "min_delta": self.rule.min_delta},
            )
        return None


class ConvergedJudge:
    """Fires once the regret bound falls below the noise floor (from the best trial's folds,
    from repeated configs, or the recipe's value)."""

    def __init__(
        self, rule: Converged, objective: Objective, space: Mapping[str, ParamSpec], seed: int
    ) -> None:
        self.rule = rule
        self.metric = objective.metric
        self.encoding = UnitEncoding(space)
        self.names = sorted(space)
        self.seed = seed

    def noise(self, evidence: Evidence) -> float | None:
        if isinstance(self.rule.noise, float):
            return self.rule.noise
        if self.rule.noise == "repeats":
            return evidence.repeat_noise(self.names)
        best = evidence.best()
        return None if best is None else fold_noise(fold_scores(best.running_means))

    def after(self, evidence: Evidence, trial: FinishedTrial) -> Verdict | None:
        completed = evidence.completed()
        if not evidence.scored(trial) or len(completed) < self.rule.min_trials:
            return None
        noise = self.noise(evidence)
        if noise is None:
            return None
        values = np.array([evidence.signed(t, self.metric) for t in completed])
        best = np.argsort(-values, kind="stable")[: GP_TRIALS * 2]
        points = self.encoding.encode([completed[i].config for i in best])
        rng = np.random.default_rng([self.seed, len(completed)])
        candidates = self.encoding.random(CANDIDATES, rng)
        bound = regret_bound(points, values[best], candidates, self.rule.min_trials)
        if bound >= noise:
            return None
        source = self.rule.noise if isinstance(self.rule.noise, str) else "recipe"
        return Verdict(
            "converged",
            len(evidence.trials),
            trial.trial_id,
            f"the regret bound on {self.metric} ({bound:.4g}) fell below its noise "
            f"({noise:.4g}, from {source})",
            {"regret_bound": bound, "noise": noise, "noise_from": source},
        )


def judges(
    section: StopSection, objective: Objective, space: Mapping[str, ParamSpec], seed: int
) -> list[Judge]:
    """A judge for each rule of ``section``, in the order they are checked."""
    found: list[Judge] = []
    if section.target is not None:
        found.append(TargetJudge(section.target, objective))
    if section.plateau is not None:
        found.append(PlateauJudge(section.plateau, objective))
    if section.converged is not None:
        found.append(ConvergedJudge(section.converged, objective, space, seed))
    return found
