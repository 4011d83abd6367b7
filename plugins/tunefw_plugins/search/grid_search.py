"""``grid``: every combination of the parameters' values, each repeated ``num_samples`` times.

``choice``, ``grid``, integer ranges and constants enumerate their values; continuous ranges
need ``points`` (evenly spaced, geometrically for log scales).
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field
from ray import tune
from ray.tune.search.basic_variant import BasicVariantGenerator

from tunefw.errors import SpaceError
from tunefw.plugin_api.capabilities import TakesNoWarmStart
from tunefw.plugin_api.protocols import SearchPlan, SearchSettings
from tunefw.recipe.numbers import Int
from tunefw.recipe.space import Constant, ParamSpec, conditional


class GridSearch(TakesNoWarmStart):
    """It visits every point; a coarse-to-fine stage using it starts afresh."""

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")

        points: Int | None = Field(
            None, ge=2, description="Values per continuous range (and per integer range, if set)."
        )

    def __init__(self, params: Params) -> None:
        self.params = params

    def plan(self, space: Mapping[str, ParamSpec], settings: SearchSettings) -> SearchPlan:
        if settings.initial_points:
            raise SpaceError("search.warm_start: grid search visits every point; it takes none")
        names = conditional(space)
        if names:
            raise SpaceError(
                f"search.space.{names[0]}.when: grid crosses every parameter with every other, "
                "so it cannot take conditional parameters; use random or bayesian"
            )
        param_space = {}
        for name, spec in space.items():
            try:
                values = spec.grid_values(self.params.points)
            except SpaceError as exc:
                raise SpaceError(f"search.space.{name}: {exc}") from None
            single = isinstance(spec, Constant)
            param_space[name] = values[0] if single else tune.grid_search(values)
        return SearchPlan(
            param_space=param_space,
            search_alg=BasicVariantGenerator(max_concurrent=settings.max_concurrent or 0),
            num_samples=settings.num_samples or 1,
        )
