"""Optuna's TPE sampler weighted towards the space's priors (piBO; the GP's is in
``prior_gp``, apart, as it imports torch).

It adds ``prior_weight(trials) * log(belief)`` to its log-scale acquisition, ``log l(x) -
log g(x)``, over its candidates before picking one. Its first trials come from
``StartSampler``. Without priors it is Optuna's own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from optuna.distributions import BaseDistribution
from optuna.samplers import TPESampler
from optuna.study import Study
from optuna.trial import FrozenTrial, TrialState

from tunefw import compat
from tunefw_plugins.search.priors import Belief, StartSampler, log_prior, prior_weight

_ParzenEstimator = compat.OPTUNA_PARZEN_ESTIMATOR.get()
compat.OPTUNA_TPE_ACQUISITION.get()  # the hook overridden below


def finished_trials(study: Study) -> int:
    return len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))


class PriorTPESampler(TPESampler):
    """TPE whose start trials are ``start``'s and whose candidates are weighted by priors."""

    def __init__(self, *, start: StartSampler, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        compat.TPE_RANDOM_SAMPLER.check(self)
        self._random_sampler = start
        self._beliefs: Mapping[str, Belief] = start.beliefs
        self._weight = 0.0

    def _sample(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        self._weight = prior_weight(finished_trials(study))
        return super()._sample(study, trial, search_space)

    def _compute_acquisition_func(
        self,
        samples: dict[str, np.ndarray],
        mpe_below: _ParzenEstimator,
        mpe_above: _ParzenEstimator,
    ) -> np.ndarray:
        acquisition = super()._compute_acquisition_func(samples, mpe_below, mpe_above)
        if not self._beliefs:
            return acquisition
        return acquisition + self._weight * log_prior(self._beliefs, samples)
