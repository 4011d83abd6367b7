"""Optional plugin capabilities are declared by subclassing, and the core asks isinstance: a
plugin that misspells a hook fails when it is built instead of losing the behaviour."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from tunefw.plugin_api import registry
from tunefw.plugin_api.capabilities import (
    ChecksTrainable,
    Differentiable,
    DrivesTrials,
    NestedValidation,
    ReportsOncePerSplit,
    Resumable,
    TakesNoWarmStart,
    undeclared,
)
from tunefw.prepare.nested_folds import is_nested_validation

from .conftest import DATA

BUILT_IN = {
    ("search", "grid"): {TakesNoWarmStart},
    ("search", "hypergradient"): {ChecksTrainable, DrivesTrials},
    ("validation", "nested"): {NestedValidation},
    ("trainable", "function"): {Resumable},
    ("trainable", "sklearn"): {ReportsOncePerSplit},
    ("trainable", "linear"): {Resumable, Differentiable},
    ("trainable", "torch"): {Resumable, Differentiable},
    ("trainable", "lightning"): {Resumable},
    ("trainable", "transformers"): {Resumable},
}
PLUGIN_CAPABILITIES = {
    ChecksTrainable,
    Differentiable,
    DrivesTrials,
    NestedValidation,
    Resumable,
    TakesNoWarmStart,
    ReportsOncePerSplit,
}


BUILT_INS = [i for i in registry.describe() if i.package == "tunefw"]


@pytest.mark.parametrize("info", BUILT_INS, ids=lambda i: f"{i.kind}-{i.name}")
def test_each_built_in_claims_exactly_its_capabilities(info):
    cls = registry.load(info.kind, info.name)
    claimed = {c for c in PLUGIN_CAPABILITIES if issubclass(cls, c)}
    assert claimed == BUILT_IN.get((info.kind, info.name), set())


class MisspeltDriver(DrivesTrials):
    """A strategy that claims to drive its trials but names the hook ``drives``."""

    def drives(self, ctx: Any, trainable: Any, space: Mapping[str, Any]) -> None: ...


def test_a_claimed_capability_with_a_misspelt_hook_cannot_be_built():
    with pytest.raises(TypeError, match="abstract method drive"):
        MisspeltDriver()


class OuterOnly:
    """Has ``outer_splits`` without claiming ``NestedValidation``: not nested."""

    def outer_splits(self, data: Any) -> list[Any]:
        return []


class Nested(NestedValidation):
    inner: Any = None

    def outer_splits(self, data: Any) -> Sequence[Any]:
        return []


def test_the_core_asks_isinstance_not_for_an_attribute():
    assert not is_nested_validation(OuterOnly())
    assert is_nested_validation(Nested())


def test_a_plugin_with_old_style_hooks_is_told_they_are_no_longer_read(monkeypatch):
    monkeypatch.syspath_prepend(str(DATA))
    with pytest.warns(FutureWarning, match=r"defines 'resumable' but does not subclass") as seen:
        cls = registry._load("trainable", "old_style", "toy_plugins:OldStyleTrainable")
    assert [str(w.message) for w in seen] == undeclared(cls)
    assert len(undeclared(cls)) == 2, "resumable and drive"
    assert not is_nested_validation(cls), "nothing is probed"
