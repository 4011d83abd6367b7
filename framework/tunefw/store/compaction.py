"""Rewrite an experiment's parts as one, each (trial_id, iteration) exactly once.

Run at the end of every run. The compacted part is written whole before any old part is
deleted, so a crash in between leaves duplicates that readers already resolve, never a loss.
Only the parts read into it are deleted: a damaged part stays, for its owner to look at.
"""

from __future__ import annotations

import secrets

import pyarrow.parquet as pq

from tunefw.store import columns as col
from tunefw.store.layout import ExperimentLocation, write_atomic
from tunefw.store.reader import deduplicate, read_parts, scan_parts


def compact(location: ExperimentLocation) -> bool:
    """Merge the parts into one marked as holding each key once; True if it rewrote them."""
    parts = scan_parts(location)
    if not parts.paths or parts.compacted:
        return False
    metadata = {col.SCHEMA_VERSION_KEY: col.SCHEMA_VERSION.encode(), col.UNIQUE_KEYS_KEY: b"true"}
    rows, read = read_parts(location, parts)
    table = deduplicate(rows).replace_schema_metadata(metadata)
    name = f"{location.results_dir}/part-{secrets.token_hex(4)}-compacted.parquet"
    write_atomic(location.storage, name, lambda out: pq.write_table(table, out))
    for path in read:
        location.storage.fs.delete_file(path)
    return True
