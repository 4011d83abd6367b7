"""A tunefw search space as a ConfigSpace ``ConfigurationSpace``, and SMAC's configs back.

Ranges become floats and integers (log-scaled where theirs is), ordered values and stepped
ranges ordinal hyperparameters, categories categorical ones, and each ``when`` a condition
(several parents: all of them). A prior becomes the hyperparameter's default and its
distribution: a normal on the range's scale, or weights over the values.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from tunefw.recipe.space import Constant, IntRange, LogUniform, Options, ParamSpec, Range, Uniform
from tunefw_plugins.search.priors import HIT, WIDTH


def config_space(space: Mapping[str, ParamSpec], seed: int) -> Any:
    from ConfigSpace import AndConjunction, ConfigurationSpace, InCondition

    cs = ConfigurationSpace(seed=seed)
    sampled = {n: s for n, s in space.items() if not isinstance(s, Constant)}
    cs.add([_hyperparameter(name, spec) for name, spec in sampled.items()])
    conditions = []
    for name, spec in sampled.items():
        parts = [
            InCondition(cs[name], cs[parent], values)
            for parent, values in (spec.when or {}).items()
            if parent in sampled
        ]
        if parts:
            conditions.append(parts[0] if len(parts) == 1 else AndConjunction(*parts))
    cs.add(conditions)
    return cs


def values_of(config: Any, space: Mapping[str, ParamSpec]) -> dict[str, Any]:
    """A SMAC configuration's active values as plain Python, typed as the space's."""
    out = {}
    for name, value in dict(config).items():
        plain = value.item() if isinstance(value, np.generic) else value
        spec = space[name]
        out[name] = spec.nearest(plain) if isinstance(spec, Range) else plain
    return out


def _hyperparameter(name: str, spec: ParamSpec) -> Any:
    from ConfigSpace import (
        Categorical,
        Float,
        Integer,
        Normal,
        OrdinalHyperparameter,
    )

    confidence = spec.confidence or "medium"
    if isinstance(spec, Options):
        order = spec.order()
        if order is not None:
            return OrdinalHyperparameter(
                name, order, default_value=order[0] if spec.prior is None else spec.prior
            )
        weights = None
        if spec.prior is not None and len(spec.values) > 1:
            miss = (1 - HIT[confidence]) / (len(spec.values) - 1)
            weights = [HIT[confidence] if v == spec.prior else miss for v in spec.values]
        prior = {} if spec.prior is None else {"default": spec.prior}
        return Categorical(name, list(spec.values), weights=weights, **prior)
    assert isinstance(spec, Range)
    step = getattr(spec, "step", None)
    if step and not (isinstance(spec, IntRange) and step == 1):
        values = spec.grid_values(None)
        return OrdinalHyperparameter(name, values, default_value=spec.prior or values[0])
    low, high = spec.bounds
    distribution = None
    if spec.prior is not None:
        sigma = _sigma(low, high, spec.log, WIDTH[confidence])
        distribution = Normal(mu=float(spec.prior), sigma=sigma)
    if isinstance(spec, IntRange):
        return Integer(
            name, (int(low), int(high)), log=spec.log, default=spec.prior, distribution=distribution
        )
    assert isinstance(spec, (Uniform, LogUniform))
    return Float(name, (low, high), log=spec.log, default=spec.prior, distribution=distribution)


def _sigma(low: float, high: float, log: bool, width: float) -> float:
    """The value-space sigma ConfigSpace turns into ``width`` on the unit scale.

    On a log scale ConfigSpace measures a sigma as ``|log(low + sigma)| / log(high / low)``
    (``UnitScaler.vectorize_size``); tests/test_smac_search.py checks the resulting width.
    """
    if log:
        return math.exp(width * (math.log(high) - math.log(low))) - low
    return width * (high - low)
