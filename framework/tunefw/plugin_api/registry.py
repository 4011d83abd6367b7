"""Plugin discovery through Python entry points.

Built-in plugins are registered exactly like third-party ones, so the framework never imports
a plugin by name. Plugins load on demand, one at a time: a plugin that fails to import is
reported by name and does not affect any other. ``TUNEFW_DISABLE_PLUGINS`` (comma-separated
``kind:name`` or ``name``) hides plugins, e.g. a broken third-party one.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Literal

from pydantic import BaseModel

from tunefw.errors import PluginError
from tunefw.plugin_api.capabilities import undeclared

Kind = Literal["search", "validation", "regularization", "trainable"]

GROUPS: dict[Kind, str] = {
    "search": "tunefw.search",
    "validation": "tunefw.validation",
    "regularization": "tunefw.regularization",
    "trainable": "tunefw.trainable",
}

#: How each kind is named in messages, after the recipe field that selects it.
LABELS: dict[Kind, str] = {
    "search": "search strategy",
    "validation": "validation strategy",
    "regularization": "regularizer",
    "trainable": "trainable kind",
}

DISABLE_ENV = "TUNEFW_DISABLE_PLUGINS"


@dataclass(frozen=True)
class PluginInfo:
    """One registered plugin, as ``tunefw plugins`` lists it."""

    kind: Kind
    name: str
    target: str
    package: str
    version: str
    error: str | None = None


def _disabled() -> set[str]:
    return {item.strip() for item in os.environ.get(DISABLE_ENV, "").split(",") if item.strip()}


def available(kind: Kind) -> dict[str, EntryPoint]:
    """The enabled plugins of ``kind``, by name (nothing is imported)."""
    off = _disabled()
    return {
        ep.name: ep
        for ep in entry_points(group=GROUPS[kind])
        if ep.name not in off and f"{kind}:{ep.name}" not in off
    }


@cache
def _load(kind: Kind, name: str, target: str) -> Any:
    ep = EntryPoint(name=name, value=target, group=GROUPS[kind])
    try:
        plugin = ep.load()
    except Exception as exc:  # any import-time failure is the plugin's, not ours
        raise PluginError(
            f"{LABELS[kind]} {name!r} ({target}) failed to load: {type(exc).__name__}: {exc}"
        ) from exc
    params = getattr(plugin, "Params", None)
    if not (isinstance(params, type) and issubclass(params, BaseModel)):
        raise PluginError(
            f"{LABELS[kind]} {name!r} ({target}) has no Params model (a pydantic BaseModel)"
        )
    for advice in undeclared(plugin):
        warnings.warn(advice, FutureWarning, stacklevel=2)
    return plugin


def load(kind: Kind, name: str) -> Any:
    """The plugin class registered as ``name`` in ``kind``'s group.

    Raises ``PluginError`` listing the known names when ``name`` is unknown, or naming the
    plugin when it fails to import.
    """
    found = available(kind)
    if name not in found:
        known = ", ".join(sorted(found)) or "none installed"
        raise PluginError(f"unknown {LABELS[kind]} {name!r}; known: {known}")
    return _load(kind, name, found[name].value)


def describe() -> list[PluginInfo]:
    """Every enabled plugin of every kind, with its package, version and any load error."""
    infos = []
    for kind in GROUPS:
        for name, ep in sorted(available(kind).items()):
            dist = ep.dist
            error = None
            try:
                load(kind, name)
            except PluginError as exc:
                error = str(exc)
            infos.append(
                PluginInfo(
                    kind=kind,
                    name=name,
                    target=ep.value,
                    package=dist.name if dist else "?",
                    version=dist.version if dist else "?",
                    error=error,
                )
            )
    return infos
