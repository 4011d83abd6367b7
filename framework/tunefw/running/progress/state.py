"""What a running experiment looks like now: counts, each trial's latest score, the best.

Callback hooks update it in constant time; views read a ``Snapshot`` when they redraw. Trials
rank as ``tunefw best`` ranks them: feasible first, then those that ran to completion, then
by score.
"""

from __future__ import annotations

import heapq
import math
import numbers
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from tunefw.recipe.objective import Objective
from tunefw.store import columns as col

FINAL = frozenset({col.TERMINATED, col.STOPPED_EARLY, col.ERRORED})


@dataclass
class TrialState:
    """One trial as the view knows it: its latest score and whether that meets the
    constraints."""

    trial_id: str
    config: Mapping[str, Any]
    status: str = col.RUNNING
    iteration: int = 0
    score: float | None = None
    feasible: bool = True


@dataclass(frozen=True)
class Snapshot:
    """A consistent copy of a ``RunState``, for drawing."""

    total: int
    done: int
    running: int
    stopped_early: int
    errored: int
    elapsed_s: float
    top: list[TrialState]
    """The best trials with a score, best first."""

    @property
    def best(self) -> TrialState | None:
        """The best trial, if it meets the constraints (as ``tunefw best`` reports it)."""
        return self.top[0] if self.top and self.top[0].feasible else None

    @property
    def eta_s(self) -> float | None:
        """Seconds left at the pace so far, once a trial has finished."""
        if not self.done or self.done >= self.total:
            return None
        return self.elapsed_s / self.done * (self.total - self.done)


class RunState:
    """Every trial of one run, as its callback hooks report them."""

    def __init__(self, total: int, objective: Objective) -> None:
        self.total = total
        self.objective = objective
        self.trials: dict[str, TrialState] = {}
        self.started = time.monotonic()
        self.counts = dict.fromkeys(FINAL, 0)
        self._sign = -1.0 if objective.mode == "max" else 1.0

    def start(self, trial_id: str, config: Mapping[str, Any]) -> None:
        """A trial started, or started again (a retry keeps what it reported)."""
        if trial_id not in self.trials:
            self.trials[trial_id] = TrialState(trial_id, config)

    def result(self, trial_id: str, config: Mapping[str, Any], result: Mapping[str, Any]) -> None:
        """A trial reported: its latest score is the objective's metric in ``result``."""
        trial = self.trials.get(trial_id) or TrialState(trial_id, config)
        self.trials[trial_id] = trial
        trial.config = config  # PBT replaces a trial's config
        trial.iteration = int(result.get("training_iteration", trial.iteration + 1))
        value = result.get(self.objective.metric)
        if isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)):
            trial.score = None if math.isnan(value) else float(value)
        if self.objective.constraints:
            trial.feasible = self.objective.feasible(result)

    def finish(self, trial_id: str, status: str, config: Mapping[str, Any]) -> None:
        """A trial ended with ``status`` (terminated, stopped early or errored); once only."""
        trial = self.trials.get(trial_id) or TrialState(trial_id, config)
        self.trials[trial_id] = trial
        if trial.status not in FINAL:
            trial.status = status
            self.counts[status] += 1

    @property
    def done(self) -> int:
        return sum(self.counts.values())

    def _rank(self, trial: TrialState) -> tuple[bool, bool, float]:
        assert trial.score is not None
        return (not trial.feasible, trial.status != col.TERMINATED, self._sign * trial.score)

    def snapshot(self, top: int = 5) -> Snapshot:
        """Counts and the ``top`` best trials, copied."""
        scored = (t for t in self.trials.values() if t.score is not None)
        best = heapq.nsmallest(top, scored, key=self._rank)
        done = self.done
        return Snapshot(
            total=max(self.total, len(self.trials)),
            done=done,
            running=len(self.trials) - done,
            stopped_early=self.counts[col.STOPPED_EARLY],
            errored=self.counts[col.ERRORED],
            elapsed_s=time.monotonic() - self.started,
            top=[replace(t) for t in best],
        )
