"""``TrialContext``: everything one trial receives, and nothing global."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from tunefw.errors import MetricError
from tunefw.plugin_api.protocols import Dataset, Regularizer, Split

T = TypeVar("T")

Reporter = Callable[[dict[str, Any], Any], None]
"""Sends (metrics, state to checkpoint or None) on to Ray Tune."""


@dataclass
class TrialContext:
    """What a trainable adapter (or a user's function) gets for one trial.

    ``config`` holds every sampled value; ``hyperparameters`` leaves out the ones that belong
    to regularizers, which ``regularize`` applies to a model instead.
    """

    config: Mapping[str, Any]
    metric: str
    """The primary objective's metric: every report must include it."""
    reporter: Reporter
    data: Dataset | None = None
    splits: Sequence[Split] = ()
    regularizers: Sequence[Regularizer] = ()
    regularizer_keys: frozenset[str] = frozenset()
    seed: int | None = None
    restored: Any = None
    """The state of the last checkpoint, when the trial was retried or resumed; else None."""
    metrics: tuple[str, ...] = ()
    """Every metric the recipe reads (objectives, then constraints); ``metric`` first."""
    checkpoint_interval_s: float | None = None
    """The least seconds between the checkpoints ``checkpoint_due`` asks for; None: one with
    every report (a scheduler that pauses trials resumes them from their last)."""
    reports: int = field(default=0, init=False)
    _last_checkpoint: float = field(
        default_factory=lambda: time.monotonic(), init=False, repr=False
    )

    @property
    def hyperparameters(self) -> dict[str, Any]:
        """The sampled values meant for the model itself."""
        return {k: v for k, v in self.config.items() if k not in self.regularizer_keys}

    def regularize(self, target: T) -> T:
        """Apply every regularizer, bound to this trial's config, to ``target``."""
        for regularizer in self.regularizers:
            target = regularizer.apply(target, self.config)
        return target

    def checkpoint_due(self) -> bool:
        """Whether the next report should carry a checkpoint: always under a scheduler that
        pauses trials, else once ``checkpoint_interval_s`` have passed since the last one (or
        the trial's start). A retry then redoes at most that much training, and cheap
        iterations do not each pay for a checkpoint (a copy into the experiment's storage)."""
        interval = self.checkpoint_interval_s
        return interval is None or time.monotonic() - self._last_checkpoint >= interval

    def report(self, metrics: Mapping[str, Any], state: Any = None) -> None:
        """Report one result to Ray Tune (and so to ASHA and the result store).

        ``state``, any picklable object, is saved as a checkpoint with this result: a retried
        or resumed trial starts with it in ``restored``.
        """
        if self.metric not in metrics:
            reported = ", ".join(sorted(metrics)) or "nothing"
            raise MetricError(
                f"objective.metric: the trainable never reports {self.metric!r} "
                f"(it reported: {reported})"
            )
        self.reports += 1
        self.reporter(dict(metrics), state)
        if state is not None:
            self._last_checkpoint = time.monotonic()
