"""What the stop rules read: the finished trials in the order they finished.

Each keeps its config, its final metrics, whether it completed (an early-stopped trial was
scored on fewer iterations) and its fold scores: a trainable whose iterations are folds
reports the running mean after each, so fold ``k``'s own score is ``k * mean_k - (k - 1) *
mean_(k-1)``.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tunefw.recipe.numbers import finite_or_none
from tunefw.recipe.objective import Objective


def fold_scores(running_means: Sequence[float]) -> list[float]:
    """Each fold's score, from the running means reported after each fold."""
    scores, previous = [], 0.0
    for k, mean in enumerate(running_means, start=1):
        scores.append(k * mean - (k - 1) * previous)
        previous = mean
    return scores


def fold_noise(scores: Sequence[float]) -> float | None:
    """The standard error of a k-fold mean (Nadeau and Bengio's correction for overlapping
    training sets, as Optuna's ``CrossValidationErrorEvaluator``): ``sqrt((1/k + 1/(k-1)) *
    var)``; None for fewer than two folds."""
    k = len(scores)
    if k < 2:
        return None
    return math.sqrt((1 / k + 1 / (k - 1)) * statistics.pvariance(scores))


@dataclass(frozen=True)
class FinishedTrial:
    trial_id: str
    config: dict[str, Any]
    metrics: dict[str, Any]
    """Its final reported metrics."""
    completed: bool
    """Ran to its end (not stopped early)."""
    running_means: list[float] = field(default_factory=list)
    """The primary metric after each iteration."""

    def value(self, metric: str) -> float | None:
        return finite_or_none(self.metrics.get(metric))


@dataclass
class Evidence:
    """The finished trials of one study, in the order they finished."""

    objective: Objective
    trials: list[FinishedTrial] = field(default_factory=list)

    def add(self, trial: FinishedTrial) -> None:
        self.trials.append(trial)

    def scored(self, trial: FinishedTrial) -> bool:
        """Completed, feasible and with a value for every objective: a trial ``best`` ranks."""
        return (
            trial.completed
            and self.objective.feasible(
                {c.metric: trial.value(c.metric) for c in self.objective.constraints}
            )
            and all(trial.value(m) is not None for m in self.objective.targets)
        )

    def completed(self) -> list[FinishedTrial]:
        return [t for t in self.trials if self.scored(t)]

    def signed(self, trial: FinishedTrial, metric: str) -> float:
        """``metric`` of a scored trial, to maximise."""
        value = trial.value(metric)
        assert value is not None
        return value if self.objective.targets[metric] == "max" else -value

    def best(self) -> FinishedTrial | None:
        """The scored trial best on the primary metric (the first of equals)."""
        completed = self.completed()
        if not completed:
            return None
        metric = self.objective.metric
        return max(completed, key=lambda t: self.signed(t, metric))

    def repeat_noise(self, names: Sequence[str]) -> float | None:
        """The pooled standard deviation of the primary metric over configs scored more than
        once, or None if none was."""
        groups: dict[tuple[str, ...], list[float]] = {}
        for trial in self.completed():
            key = tuple(str(trial.config.get(n)) for n in names)
            groups.setdefault(key, []).append(self.signed(trial, self.objective.metric))
        variances = [statistics.variance(v) for v in groups.values() if len(v) > 1]
        return math.sqrt(statistics.fmean(variances)) if variances else None


def finished_trial(
    trial_id: str,
    config: Mapping[str, Any],
    results: Sequence[Mapping[str, Any]],
    completed: bool,
    metric: str,
) -> FinishedTrial:
    """A finished trial from its results in order (the last is its final one)."""
    means = [v for r in results if (v := finite_or_none(r.get(metric))) is not None]
    return FinishedTrial(
        trial_id, dict(config), dict(results[-1]) if results else {}, completed, means
    )
