"""ASHA for the configs of every pack: one small actor holds the rungs all packs share.

The decisions are Ray Tune's own: the board runs Ray's ``AsyncHyperBandScheduler``, with each
config in the place of a trial, so a lean run halves exactly as an ordinary one would. Each
decision is remembered, so a config that a retried pack evaluates again is stopped where it
was stopped before; the board also remembers which configs reached the driver, so a retried
pack skips them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import ray
from ray.tune.schedulers import AsyncHyperBandScheduler, TrialScheduler

from tunefw import compat
from tunefw.prepare.rung_replay import replay_results
from tunefw.recipe.scheduler_sections import Asha
from tunefw.store.columns import STOPPED_EARLY, TERMINATED
from tunefw.store.history import StoredTrial

TIME_ATTR = "training_iteration"
CONTINUE = ""


@dataclass(frozen=True)
class _ConfigAsTrial:
    """What Ray's ASHA reads of a trial: its id."""

    trial_id: str


class RungBoard:
    """The rungs of a lean run's ASHA (or none, without ASHA) and the configs stored."""

    def __init__(self, asha: Asha | None, metric: str, mode: str) -> None:
        self.max_t = asha.max_t if asha else None
        self.scheduler = (
            AsyncHyperBandScheduler(
                time_attr=TIME_ATTR,
                metric=metric,
                mode=mode,
                max_t=asha.max_t,
                grace_period=asha.grace_period,
                reduction_factor=asha.reduction_factor,
            )
            if asha
            else None
        )
        self.metric = metric
        self._added: set[str] = set()
        self._decisions: dict[tuple[str, int], str] = {}
        self._stored: set[str] = set()

    def milestones(self) -> list[float]:
        """The iterations at which ASHA may decide, ascending: its rungs and ``max_t``.

        At any other iteration Ray's ASHA only continues, so packs ask only at these. The
        rungs are read from Ray's brackets, so they are the ones it decides at.
        """
        if self.scheduler is None or self.max_t is None:
            return []
        rungs = {milestone for milestone, _ in compat.asha_rungs(self.scheduler)}
        return sorted(rungs | {float(self.max_t)})

    def decide(self, config_id: str, iteration: int, value: Any) -> str:
        """ASHA's decision on a config's result: "" to go on, else the status it ends with."""
        key = (config_id, iteration)
        if key not in self._decisions:
            self._decisions[key] = self._decide(config_id, iteration, value)
        return self._decisions[key]

    def _decide(self, config_id: str, iteration: int, value: Any) -> str:
        if self.scheduler is None or self.max_t is None:
            return CONTINUE
        trial = _ConfigAsTrial(config_id)
        if config_id not in self._added:
            self._added.add(config_id)
            self.scheduler.on_trial_add(None, trial)  # type: ignore[arg-type]
        result = {TIME_ATTR: iteration, self.metric: value}
        action = self.scheduler.on_trial_result(None, trial, result)  # type: ignore[arg-type]
        if action != TrialScheduler.STOP:
            return CONTINUE
        return STOPPED_EARLY if iteration < self.max_t else TERMINATED

    def end(self, config_id: str, iteration: int, value: Any) -> None:
        """A config ended with this last result: ASHA records it, as for a trial."""
        if self.scheduler is None or config_id not in self._added:
            return
        trial = _ConfigAsTrial(config_id)
        result = {TIME_ATTR: iteration, self.metric: value}
        self.scheduler.on_trial_complete(None, trial, result)  # type: ignore[arg-type]
        self._added.discard(config_id)

    def replay(self, trials: Sequence[StoredTrial]) -> None:
        """A resumed run's stored configs, fed to the rungs before any pack asks."""
        if self.scheduler is not None:
            replay_results(self.scheduler, trials, self.metric)

    def mark_stored(self, config_ids: Iterable[str]) -> None:
        """These configs reached the driver; their decisions are no longer needed."""
        ids = set(config_ids)
        self._stored |= ids
        self._decisions = {k: v for k, v in self._decisions.items() if k[0] not in ids}

    def stored(self, config_ids: Iterable[str]) -> list[str]:
        """Which of ``config_ids`` reached the driver."""
        return [c for c in config_ids if c in self._stored]


BOARD_NAME = "tunefw-rung-board"


def start_board(
    asha: Asha | None, metric: str, mode: str, replayed: Sequence[StoredTrial] = ()
) -> Any:
    """A new board, as an actor that holds no CPU (it answers in microseconds), its rungs
    holding the ``replayed`` trials of a resumed run. Its name (``BOARD_NAME`` and a unique
    suffix) tells what it is in Ray's dashboard and ``ray list actors``."""
    name = f"{BOARD_NAME}-{uuid.uuid4().hex[:12]}"
    board = ray.remote(RungBoard).options(num_cpus=0, name=name).remote(asha, metric, mode)
    if replayed:
        ray.get(board.replay.remote(list(replayed)))  # type: ignore[attr-defined]
    return board
