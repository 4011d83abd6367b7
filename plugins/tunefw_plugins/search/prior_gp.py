"""Optuna's Gaussian-process sampler weighted towards the space's priors (piBO).

It adds ``prior_weight(trials) * log(belief)`` to its log expected improvement as it
optimizes it (``GPSampler._optimize_acqf``, the hook Optuna keeps for this), on the unit
scale the GP works on. Its first trials come from ``StartSampler``. Imported only where a GP
is built: it loads torch.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from optuna.distributions import BaseDistribution
from optuna.samplers import GPSampler
from optuna.study import Study
from optuna.trial import FrozenTrial

from tunefw import compat
from tunefw_plugins.search.prior_samplers import finished_trials
from tunefw_plugins.search.priors import Belief, StartSampler, prior_weight

acqf_module = compat.OPTUNA_GP_ACQF.get()
compat.OPTUNA_GP_OPTIMIZE_ACQF.get()  # the hook overridden below


class _PriorWeighted(acqf_module.BaseAcquisitionFunc):
    """A log-scale acquisition plus the weighted log belief of the dimensions with a prior."""

    def __init__(
        self, inner: acqf_module.BaseAcquisitionFunc, terms: list[tuple[int, Belief]], weight: float
    ) -> None:
        super().__init__(inner.length_scales, inner.search_space)
        self.inner = inner
        self.terms = terms
        self.weight = weight

    def eval_acqf(self, x: torch.Tensor) -> torch.Tensor:
        value = self.inner.eval_acqf(x)
        for dim, belief in self.terms:
            value = value + self.weight * belief.log_density(x[..., dim])
        return value


class PriorGPSampler(GPSampler):
    """Optuna's GP sampler whose acquisition is weighted by the priors of ``start``."""

    def __init__(self, *, start: StartSampler, **kwargs: Any) -> None:
        super().__init__(independent_sampler=start, **kwargs)
        self._beliefs: Mapping[str, Belief] = start.beliefs
        self._terms: list[tuple[int, Belief]] = []
        self._weight = 0.0

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        self._terms = [
            (i, self._beliefs[name]) for i, name in enumerate(search_space) if name in self._beliefs
        ]
        self._weight = prior_weight(finished_trials(study))
        return super().sample_relative(study, trial, search_space)

    def _optimize_acqf(
        self, acqf: acqf_module.BaseAcquisitionFunc, best_params: np.ndarray | None
    ) -> np.ndarray:
        if self._terms:
            acqf = _PriorWeighted(acqf, self._terms, self._weight)
        return super()._optimize_acqf(acqf, best_params)
