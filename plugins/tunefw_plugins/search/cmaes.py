"""``cmaes``: Optuna's CMA-ES sampler, for continuous and integer spaces of a fixed dimension.

It adapts a multivariate normal over the whole space, so it refuses categorical and
conditional parameters, several objectives and constraints (it cannot model any of them).
Ordered values (``ordinal``, a ``choice`` of numbers) are searched by their position.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from optuna.samplers import CmaEsSampler
from pydantic import BaseModel, ConfigDict, Field

from tunefw.errors import RecipeError, SpaceError
from tunefw.plugin_api.protocols import SearchPlan, SearchSettings
from tunefw.recipe.numbers import FiniteFloat, Int
from tunefw.recipe.space import Options, ParamSpec
from tunefw_plugins.search._optuna import optuna_plan, refuse_conditional, refuse_multi_objective


class CmaEsSearch:
    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")

        sigma0: FiniteFloat | None = Field(
            None, gt=0, description="Initial step size; a sixth of the range by default."
        )
        popsize: Int | None = Field(None, ge=2, description="Population per generation.")
        n_startup_trials: Int = Field(1, ge=0)
        restart_strategy: Literal["ipop", "bipop"] | None = None
        use_separable_cma: bool = False
        with_margin: bool = Field(True, description="Keep integer parameters from collapsing.")

    def __init__(self, params: Params) -> None:
        self.params = params

    def plan(self, space: Mapping[str, ParamSpec], settings: SearchSettings) -> SearchPlan:
        for name, spec in space.items():
            if isinstance(spec, Options) and spec.order() is None:
                raise SpaceError(
                    f"search.space.{name}: cmaes samples numbers, not categories; make it a "
                    "constant or an ordinal, or use bayesian, qmc or random"
                )
        refuse_conditional(space, "cmaes", "it adapts one distribution over a fixed space")
        refuse_multi_objective(settings, "cmaes")
        if settings.constraints:
            raise RecipeError(
                "objective.constraints: cmaes cannot take constraints; use bayesian or nsga2"
            )
        p = self.params
        sampler = CmaEsSampler(
            seed=settings.seed,
            sigma0=p.sigma0,
            popsize=p.popsize,
            n_startup_trials=p.n_startup_trials,
            restart_strategy=p.restart_strategy,
            use_separable_cma=p.use_separable_cma,
            with_margin=p.with_margin and not p.use_separable_cma,
        )
        return optuna_plan(space, settings, sampler, "cmaes")
