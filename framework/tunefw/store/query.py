"""``--where``, ``--sort`` and ``--columns``: column names and simple filters over results.

A filter is ``COLUMN OP VALUE`` clauses joined by ``and``; OP is one of == != < <= > >=.
A column may be named in full (``metric.accuracy``) or, when unambiguous, without its prefix
(``accuracy``, ``kernel``). Values are read as YAML and must suit the column's type: a
number for a numeric column, text for a text column (quoted if it looks like something
else), true/false for a flag, a date or ISO time (UTC unless it says) for a timestamp.
Filters become pyarrow expressions, pushed down into the scan.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Sequence
from contextlib import suppress
from datetime import date, datetime, time, timezone
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import yaml

from tunefw.errors import StoreError
from tunefw.store import columns as col

_CLAUSE = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*(==|!=|<=|>=|=|<|>)\s*(\S.*?)\s*$")
_AND = re.compile(r"\s+and\s+", re.IGNORECASE)
_OR = re.compile(r"(^|\s)or(\s|$)", re.IGNORECASE)
_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "==": operator.eq,
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
EXAMPLE = 'e.g. --where "accuracy > 0.9 and kernel == rbf"'


def resolve_column(name: str, available: Sequence[str], flag: str) -> str:
    """The full column name for ``name``, or a one-line error listing the columns."""
    if name in available:
        return name
    matches = [
        prefix + name
        for prefix in (col.CONFIG_PREFIX, col.METRIC_PREFIX)
        if prefix + name in available
    ]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise StoreError(f"{flag}: {name!r} is ambiguous: {' or '.join(matches)}")
    raise StoreError(f"{flag}: unknown column {name!r}; columns: {', '.join(available)}")


def parse_where(text: str, schema: pa.Schema) -> pc.Expression:
    """The filter expression over columns of ``schema``, each value checked against its
    column's type."""
    expression: pc.Expression | None = None
    for clause in _AND.split(text.strip()):
        match = _CLAUSE.match(clause)
        if not match:
            raise StoreError(
                f"--where: cannot parse {clause.strip()!r}: expected COLUMN OP VALUE, {EXAMPLE}"
            )
        name, op, raw = match.groups()
        if _OR.search(raw) and raw[0] not in "'\"":
            raise StoreError(f"--where: clauses are joined by 'and' only, not 'or', {EXAMPLE}")
        column = resolve_column(name, schema.names, "--where")
        value = _value(column, schema.field(column).type, raw)
        term = _OPS[op](pc.field(column), value)
        expression = term if expression is None else expression & term
    if expression is None:
        raise StoreError(f"--where: empty filter, {EXAMPLE}")
    return expression


def _value(column: str, kind: pa.DataType, raw: str) -> Any:
    """``raw`` as a value to compare with ``column`` (of type ``kind``); a one-line
    ``StoreError`` naming --where if it does not suit the column."""
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError:
        value = raw
    if value is None or pa.types.is_null(kind):
        return value  # compares as unknown: no row matches
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    if isinstance(value, (list, dict)):
        raise StoreError(f"--where: {raw!r} is not a single value, {EXAMPLE}")
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        return _number(column, value, raw)
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        if isinstance(value, str):
            return value
        raise StoreError(f"--where: {column} holds text; quote {raw!r} to compare it as text")
    if pa.types.is_boolean(kind):
        if isinstance(value, bool):
            return value
        raise StoreError(f"--where: {column} is true or false, not {raw!r}")
    if pa.types.is_timestamp(kind):
        return pa.scalar(_moment(column, value, raw), type=kind)
    raise StoreError(f"--where: {column} holds {kind} values, which --where cannot compare")


def _number(column: str, value: Any, raw: str) -> float | int:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        with suppress(ValueError):
            return float(value)  # YAML reads 1e-3 and nan as text
    raise StoreError(f"--where: {column} is a number, not {raw!r}")


def _moment(column: str, value: Any, raw: str) -> datetime:
    """A date or time as an aware datetime (UTC unless it says otherwise)."""
    if isinstance(value, str):
        with suppress(ValueError):
            value = datetime.fromisoformat(value)
    if isinstance(value, date) and not isinstance(value, datetime):
        value = datetime.combine(value, time())
    if not isinstance(value, datetime):
        raise StoreError(f"--where: {column} is a time; {raw!r} is not a date or ISO time")
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
