"""JSON events, one object per line, for scripts: ``tunefw run --json``.

``JsonEvents`` writes ``trial_started``, ``trial_result`` (one per reported result) and
``trial_completed`` (with the trial's status, and an errored trial's last error line); the CLI
adds ``run_finished``. Each line is written and flushed as the event happens; values JSON
cannot hold (NaN, infinities) are null.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Container, Mapping
from typing import Any, TextIO

import numpy as np

from tunefw.running.result_writer import flatten_metrics
from tunefw.running.trial_events import TrialEvents


def jsonable(value: Any) -> Any:
    """``value`` as JSON holds it: NumPy scalars as Python numbers, NaN and infinities as
    null, containers converted throughout, anything else as its text."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return str(value)


def write_event(stream: TextIO, event: str, **fields: Any) -> None:
    """One ``{"event": ..., ...}`` line on ``stream``, flushed."""
    stream.write(json.dumps({"event": event, **jsonable(fields)}) + "\n")
    stream.flush()


class JsonEvents(TrialEvents):
    """Writes a run's trial events to ``stream`` (this process's stdout by default)."""

    def __init__(
        self, experiment: str, early_stopped: Container[str], stream: TextIO | None = None
    ) -> None:
        super().__init__(early_stopped)
        self.experiment = experiment
        self.stream = stream or sys.stdout

    def __reduce__(self) -> tuple[Any, ...]:
        """Ray Tune pickles its callbacks; a stream does not pickle, so the copy writes to
        stdout."""
        return (JsonEvents, (self.experiment, self.early_stopped))

    def _write(self, event: str, trial_id: str, **fields: Any) -> None:
        write_event(self.stream, event, experiment=self.experiment, trial_id=trial_id, **fields)

    def trial_started(self, trial_id: str, config: Mapping[str, Any]) -> None:
        self._write("trial_started", trial_id, config=config)

    def trial_reported(
        self, trial_id: str, config: Mapping[str, Any], result: Mapping[str, Any]
    ) -> None:
        step = result.get("training_iteration")
        self._write("trial_result", trial_id, iteration=step, metrics=flatten_metrics(result))

    def trial_ended(
        self, trial_id: str, config: Mapping[str, Any], status: str, error: str | None
    ) -> None:
        lines = (error or "").strip().splitlines()
        self._write("trial_completed", trial_id, status=status, error=lines[-1] if lines else None)
