"""``nsga2``: Optuna's NSGA-II genetic algorithm, for several objectives (and constraints).

Each generation of ``population_size`` trials is bred from the non-dominated, most spread-out
trials of the last, so the search spreads along the Pareto front. Also works for one objective.
"""

from __future__ import annotations

from collections.abc import Mapping

from optuna.samplers import NSGAIISampler
from pydantic import BaseModel, ConfigDict, Field

from tunefw.plugin_api.protocols import SearchPlan, SearchSettings
from tunefw.recipe.numbers import FiniteFloat, Int
from tunefw.recipe.space import ParamSpec
from tunefw_plugins.search._optuna import optuna_plan


class Nsga2Search:
    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")

        population_size: Int = Field(20, ge=2, description="Trials per generation.")
        mutation_prob: FiniteFloat | None = Field(None, ge=0, le=1)
        crossover_prob: FiniteFloat = Field(0.9, ge=0, le=1)
        swapping_prob: FiniteFloat = Field(0.5, ge=0, le=1)

    def __init__(self, params: Params) -> None:
        self.params = params

    def plan(self, space: Mapping[str, ParamSpec], settings: SearchSettings) -> SearchPlan:
        p = self.params
        sampler = NSGAIISampler(
            population_size=p.population_size,
            mutation_prob=p.mutation_prob,
            crossover_prob=p.crossover_prob,
            swapping_prob=p.swapping_prob,
            seed=settings.seed,
        )
        return optuna_plan(space, settings, sampler, "nsga2")
