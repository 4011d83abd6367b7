"""``random``: sample every parameter independently, seeded.

Ray Tune's BasicVariantGenerator does the sampling, and ``grid`` parameters in the space are
crossed with the samples, as in Ray Tune. A space with conditional parameters is sampled by
Optuna's RandomSampler instead, which asks for a parameter only when its ``when`` holds.
Warm-start configs are evaluated first and count towards ``num_samples``.
"""

from __future__ import annotations

from collections.abc import Mapping

from optuna.samplers import RandomSampler
from pydantic import BaseModel, ConfigDict
from ray.tune.search.basic_variant import BasicVariantGenerator

from tunefw.plugin_api.protocols import SearchPlan, SearchSettings
from tunefw.recipe.space import ParamSpec, conditional, tune_param_space
from tunefw_plugins.search._optuna import optuna_plan


class RandomSearch:
    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")

    def __init__(self, params: Params) -> None:
        self.params = params

    def plan(self, space: Mapping[str, ParamSpec], settings: SearchSettings) -> SearchPlan:
        if conditional(space):
            return optuna_plan(space, settings, RandomSampler(seed=settings.seed), "random")
        return SearchPlan(
            param_space=tune_param_space(dict(space)),
            search_alg=BasicVariantGenerator(
                points_to_evaluate=list(settings.initial_points) or None,
                random_state=settings.seed,
                max_concurrent=settings.max_concurrent or 0,
            ),
            num_samples=settings.budget,
        )
