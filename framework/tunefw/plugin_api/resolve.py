"""Resolve a recipe's plugins from the registry and check them against each other.

This is the second half of validation: the recipe's shape is checked by ``recipe.py``; here
each plugin's params are checked by the plugin's own ``Params`` model, the regularizers'
hyperparameters join the search space, and the trainable refuses what it cannot do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from tunefw.errors import PluginError, RecipeError
from tunefw.plugin_api import registry
from tunefw.plugin_api.capabilities import DrivesTrials
from tunefw.plugin_api.protocols import (
    Regularizer,
    SearchStrategy,
    TrainableAdapter,
    ValidationStrategy,
)
from tunefw.recipe.messages import error_lines
from tunefw.recipe.schema import Recipe
from tunefw.recipe.space import Constant, ParamSpec


@dataclass(frozen=True)
class ResolvedPlugins:
    """A recipe's plugins, built with their validated params."""

    trainable: TrainableAdapter
    search: SearchStrategy
    validation: ValidationStrategy
    regularizers: tuple[Regularizer, ...]
    space: dict[str, ParamSpec]
    """The recipe's space plus every regularizer's hyperparameters."""
    regularizer_keys: frozenset[str]


def build(
    kind: registry.Kind, name: str, params: dict[str, Any], name_field: str, params_field: str
) -> Any:
    """Load plugin ``name`` and build it with ``params``, validated by its ``Params`` model.

    ``name_field`` and ``params_field`` are the recipe paths named in error messages.
    """
    try:
        plugin = registry.load(kind, name)
    except PluginError as exc:
        raise PluginError(f"{name_field}: {exc}") from None
    try:
        validated = plugin.Params.model_validate(params)
    except ValidationError as exc:
        raise PluginError("\n".join(error_lines(exc, prefix=params_field))) from None
    return plugin(validated)


def resolve(recipe: Recipe) -> ResolvedPlugins:
    """Build every plugin the recipe names and merge the regularizers into the space."""
    trainable = _build_trainable(recipe)
    search = _build_search(recipe)
    validation = build(
        "validation",
        recipe.validation.strategy,
        recipe.validation.params,
        "validation.strategy",
        "validation",
    )
    regularizers, space, keys = _regularized_space(recipe)
    return ResolvedPlugins(
        trainable=trainable,
        search=search,
        validation=validation,
        regularizers=regularizers,
        space=space,
        regularizer_keys=keys,
    )


@dataclass(frozen=True)
class TrialPlugins:
    """What a trial's worker runs with, from a recipe ``resolve`` has already checked: no
    validation strategy (the splits arrive made), and the search strategy only where it
    drives the trials, since importing one (Optuna's, SMAC's ...) is time each actor spends
    for nothing."""

    trainable: TrainableAdapter
    driver: DrivesTrials | None
    regularizers: tuple[Regularizer, ...]
    space: dict[str, ParamSpec]
    regularizer_keys: frozenset[str]


def resolve_for_trials(recipe: Recipe, search_drives_trials: bool) -> TrialPlugins:
    """The plugins a trial's worker needs (``search_drives_trials``: as the driver found)."""
    regularizers, space, keys = _regularized_space(recipe)
    driver = _build_search(recipe) if search_drives_trials else None
    return TrialPlugins(
        trainable=_build_trainable(recipe),
        driver=driver if isinstance(driver, DrivesTrials) else None,
        regularizers=regularizers,
        space=space,
        regularizer_keys=keys,
    )


def _build_trainable(recipe: Recipe) -> Any:
    return build(
        "trainable", recipe.trainable.kind, recipe.trainable.params, "trainable.kind", "trainable"
    )


def _build_search(recipe: Recipe) -> Any:
    return build(
        "search", recipe.search.strategy, recipe.search.params, "search.strategy", "search.params"
    )


def _regularized_space(
    recipe: Recipe,
) -> tuple[tuple[Regularizer, ...], dict[str, ParamSpec], frozenset[str]]:
    """The recipe's regularizers, its space with their hyperparameters added, and the keys
    they added."""
    space: dict[str, ParamSpec] = dict(recipe.search.space)
    regularizers = []
    keys: set[str] = set()
    for i, section in enumerate(recipe.regularization):
        field = f"regularization[{i}]"
        regularizer = build("regularization", section.name, section.params, f"{field}.name", field)
        for key, spec in regularizer.hyperparameters().items():
            keys.add(key)
            if isinstance(space.get(key), Constant):
                continue  # the space pins this coefficient
            if key in space:
                raise RecipeError(
                    f"{field}: {section.name} adds parameter {key!r}, which the search space "
                    "already has (a constant there pins it)"
                )
            space[key] = spec
        regularizers.append(regularizer)
    return tuple(regularizers), space, frozenset(keys)
