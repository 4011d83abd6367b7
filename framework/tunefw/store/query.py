"""``--where``, ``--sort`` and ``--columns``: column names and simple filters over results.

A filter is ``COLUMN OP VALUE`` clauses joined by ``and``; OP is one of == != < <= > >=.
A column may be named in full (``metric.accuracy``) or, when unambiguous, without its prefix
(``accuracy``, ``kernel``). Filters become pyarrow expressions, pushed down into the scan.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Sequence
from typing import Any

import pyarrow.compute as pc
import yaml

from tunefw.errors import StoreError
from tunefw.store import columns as col

_CLAUSE = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*(==|!=|<=|>=|=|<|>)\s*(\S.*?)\s*$")
_AND = re.compile(r"\s+and\s+", re.IGNORECASE)
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


def parse_where(text: str, available: Sequence[str]) -> tuple[pc.Expression, list[str]]:
    """The filter expression, and the columns it reads."""
    expression: pc.Expression | None = None
    used = []
    for clause in _AND.split(text.strip()):
        match = _CLAUSE.match(clause)
        if not match:
            raise StoreError(
                f"--where: cannot parse {clause.strip()!r}: expected COLUMN OP VALUE, {EXAMPLE}"
            )
        name, op, raw = match.groups()
        column = resolve_column(name, available, "--where")
        try:
            value = yaml.safe_load(raw)
        except yaml.YAMLError:
            value = raw
        if isinstance(value, (list, dict)):
            raise StoreError(f"--where: {raw!r} is not a single value, {EXAMPLE}")
        term = _OPS[op](pc.field(column), value)
        expression = term if expression is None else expression & term
        used.append(column)
    if expression is None:
        raise StoreError(f"--where: empty filter, {EXAMPLE}")
    return expression, used
