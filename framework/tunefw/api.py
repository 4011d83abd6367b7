"""The Python API for reading results: ``open_results`` and dataframe helpers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from tunefw.errors import TunefwError
from tunefw.store.layout import Storage, find_experiment
from tunefw.store.query import parse_where, resolve_column
from tunefw.store.reader import read_results, scan_parts


def open_results(
    storage: str,
    name: str,
    *,
    columns: Sequence[str] | None = None,
    where: str | None = None,
) -> pa.Table:
    """Every stored result of experiment ``name``, as a pyarrow Table.

    ``columns`` and ``where`` (e.g. ``"accuracy > 0.9 and kernel == rbf"``) are pushed down
    into the Parquet scan; columns may omit their ``config.``/``metric.`` prefix. Parts that
    cannot be read are skipped with a warning on the ``tunefw`` logger.
    """
    location = find_experiment(Storage.open(storage), name)
    parts = scan_parts(location)
    available = parts.schema.names
    wanted = None if columns is None else [resolve_column(c, available, "columns") for c in columns]
    expression = None if where is None else parse_where(where, parts.schema)
    return read_results(location, wanted, expression, parts)


def to_pandas(table: pa.Table) -> Any:
    """The table as a pandas DataFrame."""
    return table.to_pandas()


def to_polars(table: pa.Table) -> Any:
    """The table as a polars DataFrame (polars is optional: ``pip install polars``)."""
    try:
        import polars
    except ImportError:
        raise TunefwError("to_polars needs polars: pip install polars") from None
    return polars.from_arrow(table)
