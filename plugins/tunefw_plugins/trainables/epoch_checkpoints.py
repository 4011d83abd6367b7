"""When a trainable that trains by epochs checkpoints: every ``checkpoint_every`` epochs if the
recipe says so, else whenever the trial context says one is due (every epoch under a scheduler
that pauses trials, else every 30 s), and always at its last epoch. Shared by the torch,
lightning and transformers trainables."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from tunefw.plugin_api.context import TrialContext
from tunefw.recipe.numbers import Int

CheckpointEvery = Annotated[
    Int | None,
    Field(
        ge=1,
        description="Checkpoint every N epochs (and the last). Left out: every epoch under a "
        "scheduler that pauses trials, else at most every 30 s of training (and the last).",
    ),
]


def checkpoint_wanted(ctx: TrialContext, every: int | None, epoch: int, last: int) -> bool:
    """Whether ``epoch`` (of ``last``) is reported with a checkpoint."""
    due = ctx.checkpoint_due() if every is None else epoch % every == 0
    return due or epoch == last
