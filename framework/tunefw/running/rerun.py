"""Reserved config keys that let a resumed run rerun a stored trial under its own identity.

A trial that never finished (or, with ``--restart-errored``, one that errored) is run again
by a new Ray Tune trial. Its config carries the stored trial's id, so its rows replace the old
ones instead of adding a trial, and the checkpoint to start from. Both keys are taken out
before anything else sees the config.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

RERUN_OF = "_tunefw_rerun_of"
RESTORE_FROM = "_tunefw_restore_from"
RESERVED = (RERUN_OF, RESTORE_FROM)


@dataclass(frozen=True)
class Rerun:
    """A config split into what the trial sees and what the rerun keys say."""

    config: dict[str, Any]
    rerun_of: str | None
    restore_from: str | None


def rerun_config(
    config: Mapping[str, Any], trial_id: str, checkpoint: str | None
) -> dict[str, Any]:
    """``config`` marked as a rerun of ``trial_id``, from ``checkpoint`` if there is one."""
    marked = {**config, RERUN_OF: trial_id}
    return marked | ({RESTORE_FROM: checkpoint} if checkpoint else {})


def split_rerun(config: Mapping[str, Any]) -> Rerun:
    """The trial's own config, and the rerun keys if ``config`` has them."""
    own = {k: v for k, v in config.items() if k not in RESERVED}
    return Rerun(own, config.get(RERUN_OF), config.get(RESTORE_FROM))


def stored_id(trial_id: str, config: Mapping[str, Any]) -> str:
    """The id a trial's rows are stored under: the rerun trial's, else its own."""
    rerun_of = config.get(RERUN_OF)
    return str(rerun_of) if rerun_of else trial_id
