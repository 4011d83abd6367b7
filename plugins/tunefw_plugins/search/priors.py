"""A parameter's ``prior`` as a belief over the values Optuna holds, and the first trials.

Each belief lives on the parameter's unit scale, the one Optuna's Gaussian process works on:
its range mapped to [0, 1], on a log scale for log ranges, half a step beyond each end for
integers and steps (so an ordered parameter's positions spread evenly over it). It is a normal
around the prior, as narrow as its ``confidence`` says. A categorical prior is a probability for the
believed value, the rest shared by the others. Model-based samplers add
``BETA / trials * log(density)`` to their log-scale acquisition, which weights their
suggestions towards the prior less and less as evidence accumulates (piBO, Hvarfner et al.,
ICLR 2022). The first trials (``StartSampler``) are points of a scrambled Sobol sequence,
drawn around the priors where the space has them.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.samplers import BaseSampler
from optuna.study import Study
from optuna.trial import FrozenTrial

from tunefw.recipe.space import Constant, ParamSpec
from tunefw_plugins.search._optuna import distribution, to_optuna

BETA = 10.0
"""piBO's default: after ``BETA`` trials the prior weighs as much as the model's first trial."""
WIDTH = {"low": 0.4, "medium": 0.2, "high": 0.08}
"""The belief's standard deviation, as a share of the unit scale."""
HIT = {"low": 0.4, "medium": 0.6, "high": 0.85}
"""A categorical prior's probability for the believed value."""


@dataclass(frozen=True)
class Belief:
    """One parameter's prior, on the values Optuna holds for it."""

    dist: BaseDistribution
    center: float
    """On the unit scale; for a category, the believed value's index."""
    confidence: str

    def unit(self, values: np.ndarray) -> np.ndarray:
        """Optuna's values (a category's index) on the unit scale."""
        return unit_scale(self.dist, values)

    def log_density(self, unit: Any) -> Any:
        """The log belief at unit-scale points, up to a constant (numpy or torch alike)."""
        if isinstance(self.dist, CategoricalDistribution):
            k = len(self.dist.choices)
            hit = HIT[self.confidence]
            miss = (1 - hit) / max(k - 1, 1)
            return (unit == self.center) * (math.log(hit) - math.log(miss)) + math.log(miss)
        return -0.5 * ((unit - self.center) / WIDTH[self.confidence]) ** 2

    def draw(self, u: float) -> Any:
        """The Optuna value at quantile ``u`` of the belief (a Sobol coordinate)."""
        if isinstance(self.dist, CategoricalDistribution):
            k = len(self.dist.choices)
            weights = np.exp(self.log_density(np.arange(k)))
            return self.dist.choices[_quantile_index(weights, u)]
        assert isinstance(self.dist, (FloatDistribution, IntDistribution))
        from scipy.stats import truncnorm  # a second's import: only where a prior is drawn

        sigma = WIDTH[self.confidence]
        a, b = (0 - self.center) / sigma, (1 - self.center) / sigma
        return _from_unit(self.dist, float(truncnorm.ppf(u, a, b, loc=self.center, scale=sigma)))


def beliefs(space: Mapping[str, ParamSpec]) -> dict[str, Belief]:
    """The beliefs of the parameters that have a prior."""
    out = {}
    for name, spec in space.items():
        if spec.prior is None or isinstance(spec, Constant):
            continue
        dist = distribution(spec)
        value = to_optuna(spec, spec.prior)
        if isinstance(dist, CategoricalDistribution):
            center = float(dist.to_internal_repr(value))
        else:
            center = float(unit_scale(dist, np.array([float(value)]))[0])
        out[name] = Belief(dist, center, spec.confidence or "medium")
    return out


def unit_scale(dist: BaseDistribution, values: np.ndarray) -> np.ndarray:
    """Optuna's values of ``dist`` (a category's index) on the unit scale."""
    if isinstance(dist, CategoricalDistribution):
        return values
    assert isinstance(dist, (FloatDistribution, IntDistribution))
    low, high = _span(dist)
    scaled = np.log(values) if dist.log else values
    return (scaled - low) / (high - low)


def prior_weight(trials: int) -> float:
    """How much the prior's log density counts after ``trials`` evaluations."""
    return BETA / max(trials, 1)


def log_prior(found: Mapping[str, Belief], samples: Mapping[str, np.ndarray]) -> np.ndarray:
    """The summed log belief of candidate ``samples`` (Optuna's values, by parameter)."""
    total = np.zeros(len(next(iter(samples.values()))))
    for name, values in samples.items():
        if name in found:
            total = total + found[name].log_density(found[name].unit(np.asarray(values, float)))
    return total


def draw_uniform(dist: BaseDistribution, u: float) -> Any:
    """The Optuna value of ``dist`` at quantile ``u`` of a uniform draw."""
    if isinstance(dist, CategoricalDistribution):
        return dist.choices[min(int(u * len(dist.choices)), len(dist.choices) - 1)]
    assert isinstance(dist, (FloatDistribution, IntDistribution))
    return _from_unit(dist, u)


def _quantile_index(weights: np.ndarray, u: float) -> int:
    cumulative = np.cumsum(weights / weights.sum())
    return int(min(np.searchsorted(cumulative, u, side="right"), len(weights) - 1))


def _span(dist: BaseDistribution) -> tuple[float, float]:
    """The unit scale's ends, as Optuna's Gaussian process normalizes ``dist``."""
    assert isinstance(dist, (FloatDistribution, IntDistribution))
    pad = 0.5 * (dist.step or 0)
    low, high = float(dist.low) - pad, float(dist.high) + pad
    if dist.log:
        low, high = math.log(low), math.log(high)
    return (low, high) if high > low else (low, low + 1.0)


def _from_unit(dist: FloatDistribution | IntDistribution, u: float) -> Any:
    """The value of ``dist`` at unit-scale point ``u`` (on its step, integral for integers)."""
    low, high = _span(dist)
    scaled = low + min(max(u, 0.0), 1.0) * (high - low)
    value = math.exp(scaled) if dist.log else scaled
    if dist.step:
        value = dist.low + dist.step * round((value - dist.low) / dist.step)
    value = min(max(value, dist.low), dist.high)
    return round(value) if isinstance(dist, IntDistribution) else float(value)


class StartSampler(BaseSampler):
    """The first trials: trial ``n`` is point ``n`` of a scrambled Sobol sequence over the
    space (seeded), mapped through each parameter's belief, or uniformly where it has none.

    Stateless: the same trial number always gets the same point, so a resumed study asks
    for what an uninterrupted one would have.
    """

    def __init__(self, space: Mapping[str, ParamSpec], seed: int | None) -> None:
        self.names: Sequence[str] = [n for n, s in space.items() if not isinstance(s, Constant)]
        self.beliefs = beliefs(space)
        self.seed = 0 if seed is None else seed

    def infer_relative_search_space(
        self, study: Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        return {}

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        return {}

    def sample_independent(
        self,
        study: Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        u = self._point(trial.number)[self.names.index(param_name)]
        if param_name in self.beliefs:
            return self.beliefs[param_name].draw(u)
        return draw_uniform(param_distribution, u)

    def _point(self, number: int) -> np.ndarray:
        from scipy.stats import qmc

        sobol = qmc.Sobol(d=max(len(self.names), 1), scramble=True, seed=self.seed)
        if number:
            sobol.fast_forward(number)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a Sobol prefix that is no power of 2
            return sobol.random(1)[0]
