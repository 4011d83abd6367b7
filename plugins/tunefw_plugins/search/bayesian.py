"""``bayesian``: model-based search with Optuna's TPE (default) or Gaussian-process sampler.

TPE is multivariate (Optuna's default for one objective) and grouped, so conditional
parameters are modelled together with the parameters they depend on; with several trials in
flight it uses the constant-liar strategy.
``sampler: gp`` fits a Gaussian process (best on small, continuous spaces). Both take several
objectives and constraints. Where the space has priors, the first trials are drawn around them
and each sampler's suggestions are weighted towards them (``prior_samplers``); without, both
are Optuna's own, trial for trial.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from optuna.samplers import GPSampler, TPESampler
from pydantic import BaseModel, ConfigDict, Field

from tunefw.plugin_api.protocols import SearchPlan, SearchSettings
from tunefw.recipe.numbers import Int
from tunefw.recipe.space import ParamSpec
from tunefw_plugins.search._optuna import optuna_plan, refuse_conditional
from tunefw_plugins.search.prior_samplers import PriorTPESampler
from tunefw_plugins.search.priors import StartSampler, beliefs


class BayesianSearch:
    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")

        sampler: Literal["tpe", "gp"] = "tpe"
        n_startup_trials: Int = Field(10, ge=0, description="Random trials before the model.")
        multivariate: bool | None = Field(
            None, description="TPE: model the parameters jointly; Optuna's default if unset."
        )
        group: bool = Field(True, description="TPE: model conditional subspaces separately.")
        n_ei_candidates: Int = Field(24, ge=1, description="TPE: candidates per suggestion.")
        constant_liar: bool | None = Field(
            None, description="TPE: avoid duplicate suggestions in flight; on when concurrent."
        )
        deterministic_objective: bool = Field(False, description="GP: the objective has no noise.")

    def __init__(self, params: Params) -> None:
        self.params = params

    def plan(self, space: Mapping[str, ParamSpec], settings: SearchSettings) -> SearchPlan:
        p = self.params
        start = {"start": StartSampler(space, settings.seed)} if beliefs(space) else {}
        if p.sampler == "gp":
            refuse_conditional(space, "bayesian (sampler: gp)", "a GP models a fixed box")
            from tunefw_plugins.search.prior_gp import PriorGPSampler  # loads torch

            gp = (PriorGPSampler if start else GPSampler)(
                **start,
                seed=settings.seed,
                n_startup_trials=p.n_startup_trials,
                deterministic_objective=p.deterministic_objective,
            )
            return optuna_plan(space, settings, gp, "bayesian")
        liar = p.constant_liar if p.constant_liar is not None else settings.max_concurrent != 1
        tpe = (PriorTPESampler if start else TPESampler)(
            **start,
            seed=settings.seed,
            n_startup_trials=p.n_startup_trials,
            n_ei_candidates=p.n_ei_candidates,
            multivariate=p.multivariate,
            group=p.group and p.multivariate is not False,
            constant_liar=liar,
        )
        return optuna_plan(space, settings, tpe, "bayesian")
