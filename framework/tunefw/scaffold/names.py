"""The names a plugin package takes from its kind and its entry-point name."""

from __future__ import annotations

import re
from dataclasses import dataclass

from tunefw.errors import ScaffoldError
from tunefw.plugin_api.registry import GROUPS, LABELS, Kind

MAX_NAME = 32
"""Longer names would push the generated files' lines past 100 characters."""
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


@dataclass(frozen=True)
class PluginNames:
    """A plugin's kind and name, and the names of its package derived from them."""

    kind: Kind
    name: str
    """The entry-point name, which recipes write (``validation: {strategy: NAME}``)."""

    @property
    def group(self) -> str:
        return GROUPS[self.kind]

    @property
    def label(self) -> str:
        return LABELS[self.kind]

    @property
    def dist(self) -> str:
        """The distribution's name, also its folder: ``tunefw-my-plugin``."""
        return "tunefw-" + self.name.lower().replace("_", "-")

    @property
    def package(self) -> str:
        """The import package: ``tunefw_my_plugin``."""
        return "tunefw_" + self.name.lower()

    @property
    def class_name(self) -> str:
        """The plugin class: ``MyPlugin``."""
        return "".join(part[:1].upper() + part[1:] for part in self.name.split("_"))


def plugin_names(kind: str, name: str) -> PluginNames:
    """Check ``kind`` and ``name``; raises ``ScaffoldError`` saying what is wrong."""
    known = next((k for k in GROUPS if k == kind), None)
    if known is None:
        raise ScaffoldError(f"unknown plugin kind {kind!r}; choose one of: {', '.join(GROUPS)}")
    if not _NAME.fullmatch(name) or len(name) > MAX_NAME:
        raise ScaffoldError(
            f"plugin name {name!r} is not a Python identifier of letters, digits and _, "
            f"starting with a letter, at most {MAX_NAME} characters long"
        )
    return PluginNames(known, name)
