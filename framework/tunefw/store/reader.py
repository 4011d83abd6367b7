"""Read an experiment back from its Parquet parts, with projection and filter pushdown.

Rows are keyed by (trial_id, iteration). A retried or resumed trial may report an iteration
again; the row written last wins, so readers see each key once even before compaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from pyarrow import fs as pafs

from tunefw.errors import StoreError
from tunefw.store import columns as col
from tunefw.store.layout import ExperimentLocation, reason

KEY = [col.TRIAL_ID, col.ITERATION]


@dataclass(frozen=True)
class Parts:
    """An experiment's complete Parquet parts, and the union of their schemas.

    Read once per query: on object stores every listing and footer is a request.
    """

    paths: list[str]
    schema: pa.Schema

    @property
    def compacted(self) -> bool:
        """One compacted part, known to hold each (trial_id, iteration) once."""
        metadata = self.schema.metadata or {}
        return len(self.paths) == 1 and metadata.get(col.UNIQUE_KEYS_KEY) == b"true"


def scan_parts(location: ExperimentLocation) -> Parts:
    """List the parts (temporary files start with a dot) and unify their schemas."""
    filesystem = location.storage.fs
    selector = pafs.FileSelector(location.results_dir, allow_not_found=True)
    try:
        infos = filesystem.get_file_info(selector)
    except OSError as exc:
        raise StoreError(f"storage: cannot read {location.name}: {reason(exc)}") from None
    paths = sorted(
        i.path
        for i in infos
        if i.base_name.endswith(".parquet") and not i.base_name.startswith(".")
    )
    schemas = [pq.read_schema(p, filesystem=filesystem) for p in paths]
    schema = pa.unify_schemas(schemas or [col.RESERVED_SCHEMA], promote_options="permissive")
    return Parts(paths, schema)


def read_results(
    location: ExperimentLocation,
    columns: Sequence[str] | None = None,
    where: pc.Expression | None = None,
    parts: Parts | None = None,
) -> pa.Table:
    """The experiment's rows: only ``columns`` (all by default) of rows matching ``where``.

    ``parts``, when the caller already scanned them, saves listing and reading footers again.
    """
    parts = parts or scan_parts(location)
    schema = parts.schema
    if not parts.paths:
        return schema.empty_table()
    unknown = [c for c in columns or () if c not in schema.names]
    if unknown:
        raise StoreError(f"unknown column {unknown[0]!r}; columns: {', '.join(schema.names)}")
    dataset = ds.dataset(
        parts.paths, schema=schema, filesystem=location.storage.fs, format="parquet"
    )
    if parts.compacted:
        return dataset.to_table(columns=None if columns is None else list(columns), filter=where)
    wanted = None if columns is None else list(dict.fromkeys([*KEY, col.TIMESTAMP, *columns]))
    table = deduplicate(dataset.to_table(columns=wanted, filter=where))
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
