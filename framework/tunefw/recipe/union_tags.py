"""The tags of a discriminated union: the kinds a recipe section accepts, read from the union
itself, so a list of kinds is never written a second time."""

from __future__ import annotations

from typing import Any, get_args

from pydantic import Tag


def tags(union: Any) -> tuple[str, ...]:
    """Each member's ``Tag``, in order, of a union of ``Annotated[Model, Tag(...)]``."""
    found = []
    for member in get_args(union):
        tag = [m.tag for m in get_args(member)[1:] if isinstance(m, Tag)]
        assert len(tag) == 1, f"{member} is not Annotated[..., Tag(...)]"
        found.append(tag[0])
    return tuple(found)
