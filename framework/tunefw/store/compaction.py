"""Rewrite an experiment's parts as one, each (trial_id, iteration) exactly once.

Run at the end of every run. The compacted part is written whole before any old part is
deleted, so a crash in between leaves duplicates that readers already resolve, never a loss.
"""

from __future__ import annotations

import secrets

import pyarrow.parquet as pq

from tunefw.store.layout import ExperimentLocation, write_atomic
from tunefw.store.reader import list_parts, read_results


def compact(location: ExperimentLocation) -> bool:
    """Merge the parts if there are several or any key repeats; True if it rewrote them."""
    parts = list_parts(location)
    if not parts:
        return False
    table = read_results(location)
    if (
        len(parts) == 1
        and table.num_rows == pq.read_metadata(parts[0], filesystem=location.storage.fs).num_rows
    ):
        return False
    name = f"{location.results_dir}/part-{secrets.token_hex(4)}-compacted.parquet"
    write_atomic(location.storage, name, lambda out: pq.write_table(table, out))
    for part in parts:
        location.storage.fs.delete_file(part)
    return True
