"""Turn pydantic's validation errors into one line per field, as a dotted path."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import ValidationError

from tunefw.recipe.logger_sections import LOGGER_TYPES
from tunefw.recipe.scheduler_sections import SCHEDULER_TYPES
from tunefw.recipe.space import PARAM_KINDS

_MESSAGES = {
    "extra_forbidden": "unknown field",
    "missing": "required field is missing",
}


def dotted(loc: Sequence[int | str], prefix: str = "") -> str:
    """``('regularization', 0, 'range')`` as ``regularization[0].range``."""
    path = prefix
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


def _clean_loc(loc: Sequence[int | str]) -> list[int | str]:
    """Drop the tags pydantic inserts for tagged unions (``...C.loguniform.loguniform``)."""
    out: list[int | str] = []
    parts = list(loc)
    for i, part in enumerate(parts):
        previous = parts[i - 1] if i else None
        if part == previous and part in PARAM_KINDS:
            continue
        if previous == "scheduler" and part in SCHEDULER_TYPES:
            continue
        if i >= 2 and parts[i - 2] == "loggers" and part in LOGGER_TYPES:
            continue
        if part == "constant" or (part == "value" and previous == "constant"):
            continue
        out.append(part)
    return out


def error_lines(err: ValidationError, prefix: str = "") -> list[str]:
    """One ``field.path: message`` line per error."""
    lines = []
    for e in err.errors():
        msg = _MESSAGES.get(e["type"], e["msg"]).removeprefix("Value error, ")
        path = dotted(_clean_loc(e["loc"]), prefix)
        lines.append(f"{path}: {msg}" if path else msg)
    return lines
