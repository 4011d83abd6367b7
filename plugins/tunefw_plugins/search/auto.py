"""``auto``: the default strategy; picks its method from the space, the objectives and the
budget, and switches as trials accumulate.

The rules (docs/search.md gives the measurements behind them), for trial number ``n``:

0. a space with ``grid`` parameters (every value visited): random search crossed with the
   grid, as ``random`` does;
1. several objectives and a long budget (``nsga2_budget`` or more trials): NSGA-II throughout,
   which needs whole generations to breed;
2. ``n`` below the start count (dimensions + 1 before a GP, 10 before TPE), or every
   ``explore_every``-th trial after it: a scrambled Sobol point, drawn around the priors;
3. a conditional space, or one mostly of unordered categories: TPE (multivariate, grouped);
4. ``n`` below ``gp_trials``: Optuna's Gaussian process (log EI; EHVI for several
   objectives; constraint-aware; it conditions on trials still running);
5. after that, as the GP's cost grows with every trial: CMA-ES for one objective on numbers
   alone, its first distribution fitted to the best trials so far (WS-CMA-ES, Nomura et al.,
   AAAI 2021), else TPE.

A suggestion some trial already has is replaced by the trial's Sobol point. Every choice is
a pure function of the trial number, the space and the trials, and every sampler is
seeded from the seed and the trial number, so a resumed study that has learned the stored
trials asks for exactly what an uninterrupted one would have. Each trial's method is stored
in the ``suggested_by`` column.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler, CmaEsSampler, NSGAIISampler
from optuna.study import Study
from optuna.trial import FrozenTrial, TrialState
from pydantic import BaseModel, ConfigDict, Field

from tunefw.plugin_api.capabilities import NamesSuggestions
from tunefw.plugin_api.protocols import SearchPlan, SearchSettings
from tunefw.recipe.numbers import Int
from tunefw.recipe.space import Constant, Grid, Options, ParamSpec, conditional
from tunefw_plugins.search._optuna import ConstrainedOptunaSearch, optuna_plan
from tunefw_plugins.search.prior_samplers import PriorTPESampler
from tunefw_plugins.search.priors import StartSampler
from tunefw_plugins.search.random_search import RandomSearch

WARM_START = "warm_start"
START = "sobol"
TPE_START = 10
"""Start trials before TPE, Optuna's default: its densities need them (docs/search.md)."""


def _categorical(spec: ParamSpec) -> bool:
    return isinstance(spec, Options) and spec.order() is None


def _random(trial_id: str) -> str:
    return "random"


class AutoSampler(BaseSampler):
    """One Optuna sampler that hands each trial to the method the rules pick for it."""

    def __init__(
        self, space: Mapping[str, ParamSpec], settings: SearchSettings, params: AutoSearch.Params
    ) -> None:
        sampled = {n: s for n, s in space.items() if not isinstance(s, Constant)}
        self.seed = 0 if settings.seed is None else settings.seed
        self.params = params
        self.multi = len(settings.targets) > 1
        self.concurrent = settings.max_concurrent != 1
        self.long_multi = self.multi and settings.budget >= params.nsga2_budget
        self.start = StartSampler(space, self.seed)
        categorical = sum(_categorical(s) for s in sampled.values())
        self.tpe_space = bool(conditional(space)) or categorical * 2 > len(sampled)
        before_gp = min(10, max(4, len(sampled) + 1))
        self.start_trials = params.n_startup_trials or (TPE_START if self.tpe_space else before_gp)
        self.numbers_only = categorical == 0 and not self.multi and not settings.constraints
        self.suggested: dict[int, str] = {}
        """Each trial's method, by trial number."""
        self._current: dict[int, BaseSampler] = {}

    def method(self, number: int) -> str:
        """The method that suggests trial ``number``."""
        if self.long_multi:
            return "nsga2"
        if number < self.start_trials or self._explores(number):
            return START
        if self.tpe_space:
            return "tpe"
        if number < self.params.gp_trials:
            return "gp"
        return "cmaes" if self.numbers_only else "tpe"

    def _explores(self, number: int) -> bool:
        """Whether trial ``number`` is one the model gives up to a space-filling point, as
        SMAC interleaves random configurations: a model misled by a flat or stepped objective
        would otherwise keep probing where it believes."""
        every = self.params.explore_every
        return every is not None and (number - self.start_trials) % every == every - 1

    def _build(self, method: str, study: Study, number: int) -> BaseSampler:
        if method == START:
            return self.start
        seed = (self.seed * 1_000_003 + number) % 2**31
        if method == "gp":
            from tunefw_plugins.search.prior_gp import PriorGPSampler  # loads torch

            return PriorGPSampler(
                start=self.start, seed=seed, n_startup_trials=0, warn_independent_sampling=False
            )
        if method == "nsga2":
            return NSGAIISampler(population_size=self.params.population_size, seed=seed)
        if method == "cmaes":
            before = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            return CmaEsSampler(
                source_trials=[t for t in before if t.number < self.params.gp_trials],
                n_startup_trials=0,
                seed=seed,
                with_margin=True,
                independent_sampler=self.start,
                warn_independent_sampling=False,
            )
        return PriorTPESampler(
            start=self.start,
            seed=seed,
            n_startup_trials=0,
            multivariate=True,
            group=True,
            constant_liar=self.concurrent,
        )

    def before_trial(self, study: Study, trial: FrozenTrial) -> None:
        method = WARM_START if "fixed_params" in trial.system_attrs else self.method(trial.number)
        self.suggested[trial.number] = method
        sampler = self._build(START if method == WARM_START else method, study, trial.number)
        self._current[trial.number] = sampler
        sampler.before_trial(study, trial)

    def infer_relative_search_space(
        self, study: Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        return self._current[trial.number].infer_relative_search_space(study, trial)

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        """The method's suggestion, unless some trial already has it: then the trial's Sobol
        point (a model settled on an optimum, often on a bound or in a small grid, would
        spend the budget evaluating it again)."""
        params = self._current[trial.number].sample_relative(study, trial, search_space)
        if params and _evaluated(study, trial, params):
            self.suggested[trial.number] = START
            self._current[trial.number] = self.start
            return {}
        return params

    def sample_independent(
        self,
        study: Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        sampler = self._current[trial.number]
        return sampler.sample_independent(study, trial, param_name, param_distribution)

    def after_trial(
        self, study: Study, trial: FrozenTrial, state: TrialState, values: Sequence[float] | None
    ) -> None:
        sampler = self._current.pop(trial.number, None)
        if sampler is not None:
            sampler.after_trial(study, trial, state, values)

    def reseed_rng(self) -> None:
        """Every sampler is seeded from the seed and its trial's number: nothing to reseed."""


_NONE = object()
"""Stands for a parameter a trial does not have (a conditional one)."""


def _evaluated(study: Study, trial: FrozenTrial, params: Mapping[str, Any]) -> bool:
    """Whether another trial, finished or running, has these values of ``params``."""
    states = (TrialState.COMPLETE, TrialState.RUNNING, TrialState.PRUNED)
    return any(
        other.number != trial.number
        and all(other.params.get(k, _NONE) == v for k, v in params.items())
        for other in study.get_trials(deepcopy=False, states=states)
    )


class AutoSearcher(ConstrainedOptunaSearch, NamesSuggestions):
    """The Optuna searcher over an ``AutoSampler``, naming each trial's method."""

    def suggested_by(self, trial_id: str) -> str | None:
        trial = self._ot_trials.get(trial_id)
        sampler: AutoSampler = self._sampler
        return None if trial is None else sampler.suggested.get(trial.number)


class AutoSearch:
    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")

        n_startup_trials: Int | None = Field(
            None, ge=1, description="Sobol trials before any model; dimensions + 1 (4 to 10)."
        )
        explore_every: Int | None = Field(
            8,
            ge=2,
            description="After the start, every this many trials one is a Sobol point.",
        )
        gp_trials: Int = Field(
            200, ge=1, description="Trials after which the GP hands over (its cost grows)."
        )
        nsga2_budget: Int = Field(
            300, ge=2, description="Several objectives with this many trials: NSGA-II."
        )
        population_size: Int = Field(50, ge=2, description="NSGA-II: trials per generation.")

    def __init__(self, params: Params) -> None:
        self.params = params

    def plan(self, space: Mapping[str, ParamSpec], settings: SearchSettings) -> SearchPlan:
        if any(isinstance(spec, Grid) for spec in space.values()):
            plan = RandomSearch(RandomSearch.Params()).plan(space, settings)
            return replace(plan, suggested_by=_random)
        sampler = AutoSampler(space, settings, self.params)
        plan = optuna_plan(space, settings, sampler, "auto", searcher=AutoSearcher)
        return replace(plan, suggested_by=plan.search_alg.suggested_by)
