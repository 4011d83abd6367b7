"""A run's manifest: the recipe as run, the versions that ran it, its times and status.

Its ``format`` marks the directory as tunefw's (see ``layout.classify``); ``load_manifest``
checks the fields tunefw reads (``manifest_fields``) before any command uses them.
"""

from __future__ import annotations

import platform
import time
from datetime import datetime, timezone
from typing import Any

import ray

from tunefw import __version__, registry
from tunefw.errors import RecipeError, StoreError
from tunefw.objective import Objective
from tunefw.plugins import ResolvedPlugins
from tunefw.recipe import Recipe
from tunefw.recipe_file import validate_recipe
from tunefw.store.columns import SCHEMA_VERSION
from tunefw.store.layout import (
    FORMAT,
    MANIFEST,
    ExperimentLocation,
    first_line,
    manifest_problem,
    read_json,
    reason,
    write_json,
)
from tunefw.store.manifest_fields import check_manifest

Manifest = dict[str, Any]


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat()


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
        "started_at": _iso(time.time()),
        "ended_at": None,
        "resumed_at": [],
        "seed": recipe.search.seed,
        "recipe": recipe.model_dump(mode="json", by_alias=True),
        "config_columns": sorted(plugins.space),
        "versions": {
            "tunefw": __version__,
            "ray": ray.__version__,
            "python": platform.python_version(),
            "plugins": _plugin_versions(recipe),
        },
    }


def objective_of(manifest: Manifest) -> Objective:
    """The objective an experiment was run with."""
    return Objective.model_validate(manifest["recipe"]["objective"])


def write_manifest(location: ExperimentLocation, manifest: Manifest) -> None:
    """Write (or rewrite, atomically) the experiment's ``manifest.json``."""
    write_json(location.storage, location.manifest_path, manifest)


def load_manifest(location: ExperimentLocation) -> Manifest:
    """The experiment's manifest; a one-line ``StoreError`` naming the file (and the field) if
    it is unreadable, not tunefw's, or wrong in a field tunefw reads."""
    source = f"{location.shown}/{MANIFEST}"
    try:
        data = read_json(location.storage, location.manifest_path)
    except OSError as exc:
        raise StoreError(f"{source}: cannot read it: {reason(exc)}") from None
    except ValueError as exc:
        raise StoreError(f"{source}: not JSON: {first_line(exc)}") from None
    problem = manifest_problem(data, location.name)
    if problem is not None:
        raise StoreError(f"{location.shown} is not a tunefw experiment: {problem}")
    check_manifest(data, source)
    manifest: Manifest = data
    return manifest


def recipe_of(location: ExperimentLocation, manifest: Manifest) -> Recipe:
    """The recipe an experiment ran, validated; one line naming the manifest if it is not
    valid (any more)."""
    try:
        return validate_recipe(manifest["recipe"], f"{location.shown}/{MANIFEST}: recipe")
    except RecipeError as exc:
        lines = str(exc).splitlines()
        more = f" (and {len(lines) - 1} more)" if len(lines) > 1 else ""
        raise StoreError(lines[0] + more) from None


def stamp(
    manifest: Manifest, status: str, *, ended: bool = False, resumed: bool = False
) -> Manifest:
    """A copy of ``manifest`` with a new status and, optionally, the time it ended or resumed."""
    now = _iso(time.time())
    out = {**manifest, "status": status}
    if ended:
        out["ended_at"] = now
    if resumed:
        out["resumed_at"] = [*manifest.get("resumed_at", []), now]
    return out
