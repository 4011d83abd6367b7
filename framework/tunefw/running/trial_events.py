"""Ray Tune's trial callbacks as events of the trials tunefw stores.

An ordinary Ray Tune trial is one stored trial. In lean mode a Ray Tune trial is a pack, and
each of its configs is a stored trial: a pack's result carries the configs that ended, each
replayed here as started, reported (once per result) and ended; configs a failed pack never
reported end as errored with the pack's error. A trial that reruns a stored one (see
``resume.rerun``) is reported under the stored trial's id, with its own config. The result
writer, the progress view and the JSON events all see the same trials through this one
translation.
"""

from __future__ import annotations

from collections.abc import Container, Mapping
from typing import Any

from ray.tune import Callback
from ray.tune.experiment import Trial

from tunefw.prepare.pack_payload import PackedConfig, ended_in, pack_of
from tunefw.running.rerun import RERUN_OF, split_rerun, stored_id
from tunefw.running.trial_errors import trial_error_text
from tunefw.store import columns as col


class TrialEvents(Callback):
    """Override ``trial_started``, ``trial_reported`` and ``trial_ended``."""

    def __init__(self, early_stopped: Container[str]) -> None:
        self.early_stopped = early_stopped
        """Ray Tune trials the scheduler stopped before their end."""
        self._unreported: dict[str, dict[str, PackedConfig]] = {}
        """Per running pack, its configs that have not been reported yet."""

    def trial_started(self, trial_id: str, config: Mapping[str, Any]) -> None:
        """A trial started (a pack's config: once it has ended, just before its results)."""

    def trial_reported(
        self, trial_id: str, config: Mapping[str, Any], result: Mapping[str, Any]
    ) -> None:
        """A trial reported ``result``."""

    def trial_ended(
        self, trial_id: str, config: Mapping[str, Any], status: str, error: str | None
    ) -> None:
        """A trial ended: terminated, stopped early, or errored with ``error``."""

    @property
    def running_packs(self) -> int:
        return len(self._unreported)

    def _waiting(self, trial: Trial, pack: list[PackedConfig]) -> dict[str, PackedConfig]:
        if trial.trial_id not in self._unreported:
            self._unreported[trial.trial_id] = {c.id: c for c in pack}
        return self._unreported[trial.trial_id]

    def on_trial_start(
        self, iteration: int, trials: list[Trial], trial: Trial, **info: Any
    ) -> None:
        pack = pack_of(trial.config)
        if pack is None:
            self.trial_started(*_identity(trial.trial_id, trial.config))
        else:
            self._waiting(trial, pack)

    def on_trial_result(
        self, iteration: int, trials: list[Trial], trial: Trial, result: dict[str, Any], **info: Any
    ) -> None:
        pack = pack_of(trial.config)
        if pack is None:
            self.trial_reported(*_identity(trial.trial_id, trial.config), result)
            return
        waiting = self._waiting(trial, pack)
        for config in ended_in(result):
            waiting.pop(config.id, None)
            identity = _identity(config.id, config.config)
            self.trial_started(*identity)
            for config_result in config.results:
                self.trial_reported(*identity, config_result)
            self.trial_ended(*identity, config.status, config.error)

    def on_trial_complete(
        self, iteration: int, trials: list[Trial], trial: Trial, **info: Any
    ) -> None:
        if pack_of(trial.config) is not None:
            self._unreported.pop(trial.trial_id, None)
            return
        early = trial.trial_id in self.early_stopped
        status = col.STOPPED_EARLY if early else col.TERMINATED
        self.trial_ended(*_identity(trial.trial_id, trial.config), status, None)

    def on_trial_error(
        self, iteration: int, trials: list[Trial], trial: Trial, **info: Any
    ) -> None:
        error = trial_error_text(trial)
        pack = pack_of(trial.config)
        if pack is None:
            self.trial_ended(*_identity(trial.trial_id, trial.config), col.ERRORED, error)
            return
        for config in self._unreported.pop(trial.trial_id, {c.id: c for c in pack}).values():
            identity = _identity(config.id, config.config)
            self.trial_started(*identity)
            self.trial_ended(*identity, col.ERRORED, error)


def _identity(trial_id: str, config: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]]:
    """The id a trial is stored under, and the config it ran with (copied only for a rerun:
    this runs on every result)."""
    if RERUN_OF not in config:
        return trial_id, config
    return stored_id(trial_id, config), split_rerun(config).config
