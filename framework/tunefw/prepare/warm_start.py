"""Seed a search with the best configs of an earlier experiment (``search.warm_start``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tunefw.errors import RecipeError, StoreError
from tunefw.recipe.schema import Recipe
from tunefw.recipe.space import Constant, ParamSpec
from tunefw.store.layout import Storage, find_experiment
from tunefw.store.manifest import load_manifest, objective_of
from tunefw.store.ranking import ranked_trials
from tunefw.store.reader import config_of, read_results


def warm_start_points(recipe: Recipe, space: Mapping[str, ParamSpec]) -> tuple[dict[str, Any], ...]:
    """The earlier experiment's ``top_k`` configs, limited to this space's sampled parameters."""
    warm = recipe.search.warm_start
    if warm is None:
        return ()
    try:
        location = find_experiment(Storage.open(warm.storage or recipe.storage), warm.experiment)
    except StoreError as exc:
        raise RecipeError(f"search.warm_start.experiment: {exc}") from None
    objective = objective_of(load_manifest(location))
    ranked = ranked_trials(read_results(location), objective)
    sampled = {name for name, spec in space.items() if not isinstance(spec, Constant)}
    points = [
        {k: v for k, v in config_of(row).items() if k in sampled and v is not None}
        for row in ranked[: warm.top_k]
    ]
    points = [p for p in points if p]
    if not points:
        raise RecipeError(
            f"search.warm_start: {warm.experiment!r} has no finished trial with parameters "
            "of this search space"
        )
    return tuple(points)
