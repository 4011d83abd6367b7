"""Shared by the regularizers that only make sense for a torch trainable."""

from __future__ import annotations

from tunefw.errors import PluginError
from tunefw.plugin_api.torch_target import TorchTarget


def torch_target(target: object, plugin: str, why: str) -> TorchTarget:
    """``target`` if it is a torch trial's target; otherwise a ``PluginError`` saying ``why``."""
    if not isinstance(target, TorchTarget):
        raise PluginError(
            f"regularization: {plugin} cannot be applied to {type(target).__name__}: {why}"
        )
    return target
