"""A logger that cannot start (no server, no API key) stops the run with one line."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from tunefw.errors import RecipeError, last_line


@contextmanager
def one_line(field: str, logger: str) -> Iterator[None]:
    """Turn any error raised inside into a ``RecipeError`` naming the recipe field."""
    try:
        yield
    except Exception as exc:
        raise RecipeError(f"{field}: {logger} cannot start: {last_line(exc)}") from exc
