"""The manifest of a run that starts, and the recipe a stored one ran: what needs the
registry, the resolved plugins or the whole recipe schema, which the store does not import."""

from __future__ import annotations

import platform
import time
from typing import Any

import ray

from tunefw import __version__
from tunefw.errors import RecipeError, StoreError
from tunefw.plugin_api import registry
from tunefw.plugin_api.resolve import ResolvedPlugins
from tunefw.recipe.loading import validate_recipe
from tunefw.recipe.schema import Recipe
from tunefw.store.columns import SCHEMA_VERSION
from tunefw.store.layout import FORMAT, MANIFEST, ExperimentLocation
from tunefw.store.manifest import Manifest, iso_time


def _plugin_versions(recipe: Recipe) -> dict[str, str]:
    chosen: list[tuple[registry.Kind, str]] = [
        ("trainable", recipe.trainable.kind),
        ("search", recipe.search.strategy),
        ("validation", recipe.validation.strategy),
        *(("regularization", r.name) for r in recipe.regularization),
    ]
    versions = {}
    for kind, name in chosen:
        ep = registry.available(kind).get(name)
        dist = ep.dist if ep is not None else None
        versions[f"{kind}:{name}"] = f"{dist.name} {dist.version}" if dist else "unknown"
    return versions


def new_manifest(
    location: ExperimentLocation, recipe: Recipe, plugins: ResolvedPlugins
) -> Manifest:
    """The manifest of an experiment about to start."""
    return {
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "experiment": location.name,
        "storage": location.storage.display,
        "status": "running",
        "started_at": iso_time(time.time()),
        "ended_at": None,
        "resumed_at": [],
        "seed": recipe.search.seed,
        "recipe": recipe_record(recipe),
        "config_columns": sorted(plugins.space),
        "versions": {
            "tunefw": __version__,
            "ray": ray.__version__,
            "python": platform.python_version(),
            "plugins": _plugin_versions(recipe),
        },
    }


def recipe_record(recipe: Recipe) -> dict[str, Any]:
    """The recipe as a manifest keeps it (``recipe_of`` reads it back)."""
    return recipe.model_dump(mode="json", by_alias=True)


def recipe_of(location: ExperimentLocation, manifest: Manifest) -> Recipe:
    """The recipe an experiment ran, validated; one line naming the manifest if it is not
    valid (any more)."""
    try:
        return validate_recipe(manifest["recipe"], f"{location.shown}/{MANIFEST}: recipe")
    except RecipeError as exc:
        lines = str(exc).splitlines()
        more = f" (and {len(lines) - 1} more)" if len(lines) > 1 else ""
        raise StoreError(lines[0] + more) from None
