"""What a recipe may change when it continues a stored experiment (``run --resume``).

An experiment's trials mean what its trainable, data, objective, space, search, validation,
regularization and scheduler made them: a resume under another space or objective would mix
two experiments in one store and rank them together. How much more to run, and where, may
change: the budget and the sample count (run 50 more trials), concurrency, resources, retries,
stop rules, loggers, and the free-text description.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from tunefw.recipe.schema import Recipe

MAY_CHANGE = (
    "name",
    "description",
    "storage",
    "search.num_samples",
    "search.max_concurrent",
    "resources",
    "failure",
    "budget",
    "stop",
    "loggers",
)
"""Dotted fields a resume may give new values (``name`` and ``storage`` locate the
experiment, so they match by construction)."""

_ABSENT = object()


def first_change(stored: Recipe, given: Recipe) -> tuple[str, str, str] | None:
    """The first field outside ``MAY_CHANGE`` where ``given`` differs from the recipe the
    experiment ran, as (dotted path, stored value, given value), values as compact JSON."""
    old = stored.model_dump(mode="json", by_alias=True)
    new = given.model_dump(mode="json", by_alias=True)
    for path, before, after in _differences(old, new, ""):
        if not any(path == f or path.startswith((f + ".", f + "[")) for f in MAY_CHANGE):
            return path, _shown(before), _shown(after)
    return None


def _differences(old: Any, new: Any, path: str) -> Iterator[tuple[str, Any, Any]]:
    """Each leaf (or whole value, where the shapes differ) at which ``old`` and ``new``
    differ, with its dotted path (``[i]`` for a section in a list), in ``new``'s field
    order."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key in [*new, *(k for k in old if k not in new)]:
            yield from _differences(
                old.get(key, _ABSENT), new.get(key, _ABSENT), f"{path}.{key}" if path else key
            )
    elif _same_length_sections(old, new):
        for index, (before, after) in enumerate(zip(old, new, strict=True)):
            yield from _differences(before, after, f"{path}[{index}]")
    elif old != new:
        yield path, old, new


def _same_length_sections(old: Any, new: Any) -> bool:
    """Lists of sections (regularizers, constraints) are compared item by item; lists of
    values (a range, choices) whole."""
    return (
        isinstance(old, list)
        and isinstance(new, list)
        and len(old) == len(new)
        and all(isinstance(item, dict) for item in [*old, *new])
    )


def _shown(value: Any) -> str:
    return "nothing" if value is _ABSENT else json.dumps(value, separators=(", ", ": "))
