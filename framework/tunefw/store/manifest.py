"""A run's manifest: the recipe as run, the versions that ran it, its times and status."""

from __future__ import annotations

import platform
import time
from datetime import datetime, timezone
from typing import Any

import ray

from tunefw import __version__, registry
from tunefw.errors import StoreError
from tunefw.objective import Objective
from tunefw.plugins import ResolvedPlugins
from tunefw.recipe import Recipe
from tunefw.store.columns import SCHEMA_VERSION
from tunefw.store.layout import ExperimentLocation, read_json, write_json

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
    try:
        manifest: Manifest = read_json(location.storage, location.manifest_path)
    except (OSError, ValueError) as exc:
        raise StoreError(f"{location.name}: cannot read the manifest: {exc}") from None
    return manifest


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
