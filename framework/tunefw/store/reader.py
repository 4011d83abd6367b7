"""Read an experiment back from its Parquet parts, with projection and filter pushdown.

Rows are keyed by (trial_id, iteration). A retried or resumed trial may report an iteration
again; the row written last wins, so readers see each key once even before compaction.

A part that cannot be read (cut short, empty, not Parquet, a directory, without the key
columns, or with a column whose type clashes with the other parts') is skipped with a
warning naming it, on the ``tunefw`` logger, and the other parts are read. When no part can
be read, that is a ``StoreError`` naming the first.

A part may go while it is being read: compaction, at the end of every run, writes the merged
part whole and then deletes the parts it merged. A read that finds a part it listed gone
lists them again, and finds those rows in the merged part (``RESCANS``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from pyarrow import fs as pafs

from tunefw.errors import StoreError
from tunefw.store import columns as col
from tunefw.store.layout import ExperimentLocation, first_line, reason

KEY = [col.TRIAL_ID, col.ITERATION]
#: The reserved columns every part must have: readers key, rank and label rows by them.
REQUIRED = (*KEY, col.STATUS)

RESCANS = 5
"""How many times one read lists the parts again when a part it listed has gone meanwhile."""

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Parts:
    """An experiment's readable Parquet parts, and the union of their schemas.

    Read once per query: on object stores every listing and footer is a request.
    """

    paths: list[str]
    schema: pa.Schema

    @property
    def compacted(self) -> bool:
        """One compacted part, known to hold each (trial_id, iteration) once."""
        metadata = self.schema.metadata or {}
        return len(self.paths) == 1 and metadata.get(col.UNIQUE_KEYS_KEY) == b"true"


@dataclass(frozen=True)
class _Footer:
    path: str
    schema: pa.Schema
    rows: int


@dataclass
class _Skipped:
    """The parts skipped so far: warned about, or, when none can be read, the error."""

    location: ExperimentLocation
    messages: list[str] = field(default_factory=list)

    def add(self, path: str, why: str) -> None:
        self.messages.append(f"{self.location.storage.shown(path)}: {why}")

    def report(self, readable: Sequence[str]) -> None:
        if self.messages and not readable:
            more = len(self.messages) - 1
            also = f" (and {more} more part{'s' * (more > 1)})" if more else ""
            raise StoreError(
                f"{self.location.name}: no results part can be read: {self.messages[0]}{also}"
            )
        for message in self.messages:
            log.warning("skipped %s", message)


def scan_parts(location: ExperimentLocation) -> Parts:
    """List the parts (temporary files start with a dot), read their footers, unify their
    schemas; skip, and name, the parts that cannot be read or do not fit the others."""
    for _ in range(RESCANS):
        try:
            return _scan_once(location)
        except FileNotFoundError:  # compacted away since the listing: list again
            continue
    raise _kept_changing(location)


def _scan_once(location: ExperimentLocation) -> Parts:
    filesystem = location.storage.fs
    selector = pafs.FileSelector(location.results_dir, allow_not_found=True)
    try:
        infos = filesystem.get_file_info(selector)
    except OSError as exc:
        raise StoreError(f"storage: cannot read {location.name}: {reason(exc)}") from None
    skipped = _Skipped(location)
    footers = []
    for info in sorted(infos, key=lambda i: i.path):
        if not info.base_name.endswith(".parquet") or info.base_name.startswith("."):
            continue
        if info.type != pafs.FileType.File:
            skipped.add(info.path, "not a file")
            continue
        footer = _footer(filesystem, info.path)
        if isinstance(footer, str):
            skipped.add(info.path, footer)
        elif (problem := _reserved_problem(footer.schema)) is not None:
            skipped.add(info.path, problem)
        else:
            footers.append(footer)
    schema, kept = _unified(footers, skipped)
    skipped.report(kept)
    return Parts(kept, schema)


def _kept_changing(location: ExperimentLocation) -> StoreError:
    return StoreError(
        f"storage: the parts of {location.name} changed under {RESCANS} reads in a row; "
        "read it again"
    )


def _footer(filesystem: pafs.FileSystem, path: str) -> _Footer | str:
    """The part's schema and row count, or why they cannot be read."""
    try:
        with pq.ParquetFile(path, filesystem=filesystem) as part:
            return _Footer(path, part.schema_arrow, part.metadata.num_rows)
    except FileNotFoundError:
        raise  # gone, not damaged
    except (pa.ArrowException, OSError) as exc:
        return first_line(exc)


def _reserved_problem(schema: pa.Schema) -> str | None:
    """Why a part's reserved columns cannot be read as the store's; None if they can."""
    for name in REQUIRED:
        if name not in schema.names:
            return f"it has no {name} column"
    for reserved in col.RESERVED_SCHEMA:
        name, expected = reserved.name, reserved.type
        if name in schema.names and not _fits(schema.field(name).type, expected):
            return f"its {name} column is {schema.field(name).type}, not {expected}"
    return None


def _fits(actual: pa.DataType, expected: pa.DataType) -> bool:
    """Whether values of type ``actual`` read as ``expected`` (all-null columns do)."""
    if pa.types.is_null(actual) or actual == expected:
        return True
    if pa.types.is_timestamp(expected):
        return bool(pa.types.is_timestamp(actual))
    try:
        merged = pa.unify_schemas(
            [pa.schema([("c", expected)]), pa.schema([("c", actual)])],
            promote_options="permissive",
        )
    except (pa.ArrowTypeError, pa.ArrowInvalid):
        return False
    return bool(merged.field("c").type == expected)


def _unified(footers: list[_Footer], skipped: _Skipped) -> tuple[pa.Schema, list[str]]:
    """The parts' schemas unified, and the parts kept: where types clash, the parts with more
    rows set the type and the others are skipped."""
    schema: pa.Schema | None = None
    kept = []
    for footer in sorted(footers, key=lambda f: (-f.rows, f.path)):
        try:
            schema = (
                footer.schema
                if schema is None
                else pa.unify_schemas([schema, footer.schema], promote_options="permissive")
            )
        except (pa.ArrowTypeError, pa.ArrowInvalid) as exc:
            skipped.add(footer.path, first_line(exc))
            continue
        kept.append(footer.path)
    return schema or col.RESERVED_SCHEMA, sorted(kept)


def read_parts(
    location: ExperimentLocation,
    parts: Parts,
    columns: Sequence[str] | None = None,
    where: pc.Expression | None = None,
) -> tuple[pa.Table, list[str]]:
    """The rows of the parts that can be read whole, as stored (not deduplicated), and the
    paths of those parts; a part damaged past its footer is skipped, and named. A part that
    is gone raises ``FileNotFoundError``: the listing is out of date."""
    wanted = None if columns is None else list(columns)
    dataset = _dataset(location, parts.paths, parts.schema)
    try:
        return dataset.to_table(wanted, filter=where), list(parts.paths)
    except FileNotFoundError:
        raise
    except (pa.ArrowInvalid, OSError):  # some part is damaged past its footer
        whole = _whole_parts(location, parts)
    return _dataset(location, whole, parts.schema).to_table(wanted, filter=where), whole


def _whole_parts(location: ExperimentLocation, parts: Parts) -> list[str]:
    """The parts that read whole, each on its own; the others are named and skipped."""
    skipped = _Skipped(location)
    whole = []
    for path in parts.paths:
        try:
            _dataset(location, [path], parts.schema).to_table()
        except FileNotFoundError:
            raise
        except (pa.ArrowInvalid, OSError) as exc:
            skipped.add(path, first_line(exc))
        else:
            whole.append(path)
    skipped.report(whole)
    return whole


def _dataset(location: ExperimentLocation, paths: list[str], schema: pa.Schema) -> ds.Dataset:
    return ds.dataset(paths, schema=schema, filesystem=location.storage.fs, format="parquet")


def read_results(
    location: ExperimentLocation,
    columns: Sequence[str] | None = None,
    where: pc.Expression | None = None,
    parts: Parts | None = None,
) -> pa.Table:
    """The experiment's rows: only ``columns`` (all by default) of rows matching ``where``.

    ``parts``, when the caller already scanned them, saves listing and reading footers again.
    """
    for _ in range(RESCANS):
        try:
            return _read_results(location, columns, where, parts or scan_parts(location))
        except FileNotFoundError:  # compacted away since the listing: list again
            parts = None
    raise _kept_changing(location)


def _read_results(
    location: ExperimentLocation,
    columns: Sequence[str] | None,
    where: pc.Expression | None,
    parts: Parts,
) -> pa.Table:
    schema = parts.schema
    if not parts.paths:
        return schema.empty_table()
    unknown = [c for c in columns or () if c not in schema.names]
    if unknown:
        raise StoreError(f"unknown column {unknown[0]!r}; columns: {', '.join(schema.names)}")
    if parts.compacted:
        return read_parts(location, parts, columns, where)[0]
    wanted = None if columns is None else list(dict.fromkeys([*KEY, col.TIMESTAMP, *columns]))
    table = deduplicate(read_parts(location, parts, wanted, where)[0])
    return table if columns is None else table.select(list(columns))


def deduplicate(table: pa.Table) -> pa.Table:
    """Each (trial_id, iteration) once: the row with the latest timestamp wins."""
    if table.num_rows == 0:
        return table
    keys = table.select(KEY).group_by(KEY).aggregate([])
    if keys.num_rows == table.num_rows:
        return table
    ordered = table.sort_by([(k, "ascending") for k in (*KEY, col.TIMESTAMP)])
    return ordered.filter(_last_of_each(ordered, KEY))


def _last_of_each(table: pa.Table, keys: Sequence[str]) -> pa.Array:
    """A mask of the last row of each run of equal ``keys`` in a sorted table."""
    changes = np.zeros(table.num_rows, dtype=bool)
    changes[-1] = True
    for key in keys:
        values = table.column(key).to_numpy(zero_copy_only=False)
        changes[:-1] |= values[1:] != values[:-1]
    return pa.array(changes)


def final_rows(table: pa.Table) -> pa.Table:
    """The last row of each trial: its final metrics and status."""
    if table.num_rows == 0:
        return table
    ordered = table.sort_by([(col.TRIAL_ID, "ascending"), (col.ITERATION, "ascending")])
    return ordered.filter(_last_of_each(ordered, [col.TRIAL_ID]))


def config_of(row: dict[str, Any]) -> dict[str, Any]:
    """The hyperparameters in a result row, without the ``config.`` prefix."""
    prefix = col.CONFIG_PREFIX
    return {k.removeprefix(prefix): v for k, v in row.items() if k.startswith(prefix)}
