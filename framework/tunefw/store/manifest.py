"""A run's manifest: the recipe as run, the versions that ran it, its times and status."""

from __future__ import annotations

import platform
from datetime import datetime, timezone
from typing import Any

import ray

from tunefw import __version__, registry
from tunefw.plugins import ResolvedPlugins
from tunefw.recipe import Recipe
from tunefw.store.columns import SCHEMA_VERSION
from tunefw.store.layout import RunLocation, write_json


def _iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, timezone.utc).isoformat()


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


def write_manifest(
    location: RunLocation,
    recipe: Recipe,
    plugins: ResolvedPlugins,
    *,
    started: float,
    status: str,
    ended: float | None = None,
) -> None:
    """Write (or rewrite, atomically) the run's ``manifest.json``."""
    manifest: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "experiment": location.experiment,
        "run_id": location.run_id,
        "status": status,
        "started_at": _iso(started),
        "ended_at": _iso(ended),
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
    write_json(location.storage, location.manifest_path, manifest)
