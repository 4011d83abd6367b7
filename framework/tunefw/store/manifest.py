"""A run's manifest: the recipe as run, the versions that ran it, its times and status.

Its ``format`` marks the directory as tunefw's (see ``layout.classify``); ``load_manifest``
checks the fields tunefw reads (``manifest_fields``) before any command uses them. A new
manifest is made where a run starts (``tunefw.running.manifests``), as only there are the
plugins and Ray's version known.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any

from tunefw.errors import StoreError
from tunefw.recipe.objective import Objective
from tunefw.store.layout import (
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


def iso_time(ts: float) -> str:
    """``ts`` (seconds since the epoch) as the manifest writes times: ISO 8601, in UTC."""
    return datetime.fromtimestamp(ts, timezone.utc).isoformat()


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


def stamp(
    manifest: Manifest, status: str, *, ended: bool = False, resumed: bool = False
) -> Manifest:
    """A copy of ``manifest`` with a new status and, optionally, the time it ended or resumed."""
    now = iso_time(time.time())
    out = {**manifest, "status": status}
    if ended:
        out["ended_at"] = now
    if resumed:
        out["resumed_at"] = [*manifest.get("resumed_at", []), now]
    return out
