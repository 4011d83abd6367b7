"""A Ray Tune callback that writes every reported result to Parquet parts.

Rows are buffered on the driver and written as a new part when ``flush_rows`` rows are
waiting or ``flush_seconds`` have passed, and at the end. Each part is written whole or not at
all, so a killed driver leaves only complete parts. A trial's latest row is held back until
the trial reports again or ends, so that its last row carries the trial's final status.
In lean mode a pack reports its configs once each has ended, and each is stored as a trial.
"""

from __future__ import annotations

import numbers
import secrets
import time
from collections.abc import Callable, Container, Mapping
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from ray.tune.experiment import Trial

from tunefw.errors import StoreError
from tunefw.running.guards import RunGuard
from tunefw.running.rerun import stored_id
from tunefw.running.trial_events import TrialEvents
from tunefw.store import columns as col
from tunefw.store.layout import ExperimentLocation, reason, write_atomic


def metric_type(values: list[Any]) -> pa.DataType:
    """Booleans stay booleans, any numbers become float64 (stable across parts), else text."""
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, (bool, np.bool_)) for v in present):
        return pa.bool_()
    if all(isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_)) for v in present):
        return pa.float64()
    return pa.string()


def flatten_metrics(result: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """The user's metrics from a Ray result, nested keys joined with dots."""
    out: dict[str, Any] = {}
    for key, value in result.items():
        if not prefix and key in col.RAY_RESULT_KEYS:
            continue
        if isinstance(value, Mapping):
            out.update(flatten_metrics(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def checkpoint_uri(checkpoint: Any) -> str:
    """A Ray checkpoint's location, as a URI any worker can open (a path on local disks)."""
    kind = checkpoint.filesystem.type_name
    return str(checkpoint.path) if kind == "local" else f"{kind}://{checkpoint.path}"


class ResultWriter(TrialEvents):
    """Writes one Parquet row per reported result of one run."""

    def __init__(
        self,
        location: ExperimentLocation,
        config_types: Mapping[str, pa.DataType],
        early_stopped: Container[str],
        guard: RunGuard,
        *,
        resources: Mapping[str, float] | None = None,
        strategy: str | None = None,
        suggested_by: Callable[[str], str | None] | None = None,
        flush_rows: int = 1000,
        flush_seconds: float = 10.0,
    ) -> None:
        super().__init__(early_stopped)
        self.location = location
        self.config_types = dict(config_types)
        self.guard = guard
        self.resources = dict(resources or {})
        """A trial's CPUs and GPUs: its running time times these is its cost."""
        self.strategy = strategy
        self.suggested_by = suggested_by
        """The method behind a trial, by stored trial id; else ``strategy`` for every trial."""
        self.flush_rows = flush_rows
        self.flush_seconds = flush_seconds
        self.parts_written = 0
        self.refused = False
        """The storage refused a write: the run ends, and this writer writes nothing more."""
        self.unfinished = 0
        """Trials still running when the writer was closed: the run was interrupted."""
        self._buffer: list[dict[str, Any]] = []
        self._latest: dict[str, dict[str, Any]] = {}
        self._last_flush = time.monotonic()
        self._token = secrets.token_hex(4)

    def setup(
        self,
        stop: Any = None,
        num_samples: int | None = None,
        total_num_samples: int | None = None,
        **info: Any,
    ) -> None:
        """Start a new writer session; a resumed run must not reuse the part names."""
        self._token = secrets.token_hex(4)
        self.parts_written = 0

    def _row(
        self, trial_id: str, config: Mapping[str, Any], iteration: int, result: Mapping[str, Any]
    ) -> dict[str, Any]:
        reported = col.Reported(
            self.location.name, trial_id, iteration, result, self.resources, self._method(trial_id)
        )
        row = col.reserved_values(reported)
        for name in self.config_types:
            row[col.CONFIG_PREFIX + name] = config.get(name)
        for name, value in flatten_metrics(result).items():
            row[col.METRIC_PREFIX + name] = value
        return row

    def _method(self, trial_id: str) -> str | None:
        method = self.suggested_by(trial_id) if self.suggested_by is not None else None
        return method or self.strategy

    def trial_reported(
        self, trial_id: str, config: Mapping[str, Any], result: Mapping[str, Any]
    ) -> None:
        row = self._row(trial_id, config, result.get("training_iteration", 0), result)
        previous = self._latest.pop(trial_id, None)
        if previous is not None:
            self._buffer.append(previous)
        self._latest[trial_id] = row
        self._maybe_flush()

    def trial_ended(
        self, trial_id: str, config: Mapping[str, Any], status: str, error: str | None
    ) -> None:
        row = self._latest.pop(trial_id, None)
        if row is None:  # ended before its first report
            row = self._row(trial_id, config, 0, {})
        row[col.STATUS] = status
        row[col.ERROR] = error
        self._buffer.append(row)
        self._maybe_flush()

    def on_checkpoint(
        self, iteration: int, trials: list[Trial], trial: Trial, checkpoint: Any, **info: Any
    ) -> None:
        """The trial's latest result has a checkpoint: a rerun of it can start there."""
        row = self._latest.get(stored_id(trial.trial_id, trial.config))
        if row is not None:
            row[col.CHECKPOINT] = checkpoint_uri(checkpoint)

    def on_step_end(self, iteration: int, trials: list[Trial], **info: Any) -> None:
        self._maybe_flush()

    def on_experiment_end(self, trials: list[Trial], **info: Any) -> None:
        self.close()

    def get_state(self) -> None:
        """Called as Ray Tune snapshots the experiment: write what the snapshot may cover.

        A trial the snapshot records as finished then has all its rows on disk, so a killed
        driver loses no row that ``tunefw resume`` would not produce again.
        """
        self.flush()
        return None

    def close(self) -> None:
        """Write every buffered row; trials still running keep the status ``running``."""
        self.unfinished += len(self._latest) + self.running_packs
        self._buffer.extend(self._latest.values())
        self._latest.clear()
        self.flush()

    def _maybe_flush(self) -> None:
        due = time.monotonic() - self._last_flush >= self.flush_seconds
        if len(self._buffer) >= self.flush_rows or (due and self._buffer):
            self.flush()

    def flush(self) -> None:
        """Write the buffered rows as one new part; nothing once the storage has refused one
        (each further try would wait out the storage's retries, and the run is ending)."""
        self._last_flush = time.monotonic()
        if not self._buffer or self.refused:
            return
        table = self._table(self._buffer)
        name = f"part-{self._token}-{self.parts_written:06d}.parquet"
        path = f"{self.location.results_dir}/{name}"
        try:
            write_atomic(self.location.storage, path, lambda out: pq.write_table(table, out))
        except OSError as exc:  # the guard ends the run; resume runs these rows' trials again
            self.refused = True
            self.guard.abort(StoreError(f"storage: cannot write {path}: {reason(exc)}"))
            return
        self.parts_written += 1
        self._buffer = []

    def _table(self, rows: list[dict[str, Any]]) -> pa.Table:
        fields = list(col.RESERVED_SCHEMA)
        fields += [pa.field(col.CONFIG_PREFIX + n, t) for n, t in self.config_types.items()]
        metric_names = sorted({k for row in rows for k in row if k.startswith(col.METRIC_PREFIX)})
        for name in metric_names:
            values = [row.get(name) for row in rows]
            fields.append(pa.field(name, metric_type(values)))
        schema = pa.schema(fields, metadata={col.SCHEMA_VERSION_KEY: col.SCHEMA_VERSION})
        return pa.Table.from_pylist([_coerce(row, schema) for row in rows], schema=schema)


def _coerce(row: dict[str, Any], schema: pa.Schema) -> dict[str, Any]:
    """Values that do not fit their column's type are stored as text."""
    out = dict(row)
    for field in schema:
        value = out.get(field.name)
        if value is not None and pa.types.is_string(field.type) and not isinstance(value, str):
            out[field.name] = str(value)
    return out
