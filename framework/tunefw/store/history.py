"""What the store says an experiment has done: each trial's config, results and outcome.

Resume is planned from this alone. A trial whose last stored row is ``running`` never ended
(its driver was killed, or Ray's state lost it); every other trial is finished.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from tunefw.store import columns as col
from tunefw.store.layout import ExperimentLocation
from tunefw.store.reader import read_results


@dataclass(frozen=True)
class StoredTrial:
    """One trial as stored: its id, config, every result in order, and how it ended."""

    trial_id: str
    config: dict[str, Any]
    results: list[dict[str, Any]]
    """Each stored result's metrics (without the ``metric.`` prefix), by iteration."""
    iterations: list[int]
    status: str
    checkpoint: str | None = None
    """The path of its latest checkpoint, where Ray Tune persisted one."""
    suggested_by: str | None = None
    """The search method that suggested its config."""
    ended: float = 0.0
    """When its last result was stored (seconds since the epoch): the order trials finished."""

    @property
    def finished(self) -> bool:
        return self.status != col.RUNNING

    @property
    def last_result(self) -> dict[str, Any] | None:
        """Its final metrics; None for a trial that ended before reporting anything."""
        return self.results[-1] if self.results and self.iterations[-1] > 0 else None


@dataclass(frozen=True)
class History:
    """Every stored trial, in the order they first reported."""

    trials: list[StoredTrial] = field(default_factory=list)

    def with_status(self, *statuses: str) -> list[StoredTrial]:
        return [t for t in self.trials if t.status in statuses]

    @property
    def unfinished(self) -> list[StoredTrial]:
        return self.with_status(col.RUNNING)


def read_history(location: ExperimentLocation, config_names: Sequence[str]) -> History:
    """The experiment's trials, rebuilt from its Parquet rows (duplicates resolved)."""
    table = read_results(location)
    if table.num_rows == 0:
        return History()
    ordered = table.sort_by([(col.TIMESTAMP, "ascending")])
    first_seen: dict[str, int] = {}
    for i, trial_id in enumerate(ordered.column(col.TRIAL_ID).to_pylist()):
        first_seen.setdefault(trial_id, i)
    by_trial = _rows_by_trial(table.sort_by([(col.ITERATION, "ascending")]))
    trials = [_trial(trial_id, by_trial[trial_id], config_names) for trial_id in first_seen]
    return History(trials)


def _rows_by_trial(table: pa.Table) -> dict[str, list[dict[str, Any]]]:
    rows: dict[str, list[dict[str, Any]]] = {}
    for row in table.to_pylist():
        rows.setdefault(row[col.TRIAL_ID], []).append(row)
    return rows


def _trial(trial_id: str, rows: list[dict[str, Any]], config_names: Sequence[str]) -> StoredTrial:
    last = rows[-1]
    checkpoints = [r.get(col.CHECKPOINT) for r in rows if r.get(col.CHECKPOINT)]
    return StoredTrial(
        trial_id=trial_id,
        config={
            n: last[col.CONFIG_PREFIX + n]
            for n in config_names
            if last.get(col.CONFIG_PREFIX + n) is not None  # inactive conditionals are null
        },
        results=[_metrics(r) for r in rows],
        iterations=[r[col.ITERATION] for r in rows],
        status=last[col.STATUS],
        checkpoint=checkpoints[-1] if checkpoints else None,
        suggested_by=last.get(col.SUGGESTED_BY),
        ended=last[col.TIMESTAMP].timestamp() if last.get(col.TIMESTAMP) else 0.0,
    )


def _metrics(row: Mapping[str, Any]) -> dict[str, Any]:
    prefix = col.METRIC_PREFIX
    return {k.removeprefix(prefix): v for k, v in row.items() if k.startswith(prefix)}
