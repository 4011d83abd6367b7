"""Read a run's results back from its Parquet parts: all rows, final rows, the best trial."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from pyarrow import fs as pafs

from tunefw.errors import StoreError
from tunefw.store import columns as col
from tunefw.store.layout import RunLocation, read_json


def read_results(location: RunLocation) -> pa.Table:
    """Every row of the run, parts concatenated; columns a part lacks are null."""
    filesystem = location.storage.fs
    selector = pafs.FileSelector(location.results_dir, allow_not_found=True)
    parts = sorted(
        info.path
        for info in filesystem.get_file_info(selector)
        if info.base_name.endswith(".parquet") and not info.base_name.startswith(".")
    )
    tables = [pq.read_table(path, filesystem=filesystem) for path in parts]
    if not tables:
        return col.RESERVED_SCHEMA.empty_table()
    return pa.concat_tables(tables, promote_options="permissive")


def read_manifest(location: RunLocation) -> dict[str, Any]:
    try:
        manifest: dict[str, Any] = read_json(location.storage, location.manifest_path)
    except (OSError, ValueError) as exc:
        raise StoreError(
            f"{location.manifest_path}: cannot read the run's manifest: {exc}"
        ) from None
    return manifest


def final_rows(table: pa.Table) -> pa.Table:
    """The last row of each trial: its final metrics and status."""
    if table.num_rows == 0:
        return table
    ordered = table.sort_by([(col.TRIAL_ID, "ascending"), (col.ITERATION, "ascending")])
    ids = ordered.column(col.TRIAL_ID).to_numpy(zero_copy_only=False)
    is_last = np.append(ids[1:] != ids[:-1], True)
    return ordered.filter(pa.array(is_last))


@dataclass(frozen=True)
class BestTrial:
    trial_id: str
    metric: str
    score: float
    config: dict[str, Any]
    iteration: int
    status: str


def best_trial(table: pa.Table, metric: str, mode: str) -> BestTrial | None:
    """The trial with the best final value of ``metric``.

    Trials that ran to completion are preferred: a trial stopped early was scored on fewer
    iterations (fewer folds, fewer epochs), which is not a like-for-like comparison.
    """
    column = col.METRIC_PREFIX + metric
    finals = final_rows(table)
    if column not in finals.column_names:
        return None
    rows = [r for r in finals.to_pylist() if r[column] is not None]
    complete = [r for r in rows if r[col.STATUS] == col.TERMINATED]
    candidates = complete or rows
    if not candidates:
        return None
    pick = max if mode == "max" else min
    best = pick(candidates, key=lambda r: r[column])
    config = {
        k.removeprefix(col.CONFIG_PREFIX): v
        for k, v in best.items()
        if k.startswith(col.CONFIG_PREFIX)
    }
    return BestTrial(
        trial_id=best[col.TRIAL_ID],
        metric=metric,
        score=float(best[column]),
        config=config,
        iteration=int(best[col.ITERATION]),
        status=best[col.STATUS],
    )
