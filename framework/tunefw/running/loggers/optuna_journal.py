"""The study written into an Optuna journal file as its trials run: ``optuna-dashboard FILE``
shows it live. Imported only for an ``optuna_journal`` logger.

Each stored trial is one Optuna trial, created when it starts (a lean pack's config: when it
has ended), with its primary metric per iteration as intermediate values and its state,
values and constraints when it ends; states, distributions and attributes are those of
``tunefw export --to optuna-journal`` (``tunefw.report.optuna_terms``). A resumed run appends to the
same study: a trial already finished there is not written again, and one left running by a
killed driver is carried on. Parquet stays the record: a journal write that fails warns once,
and the run goes on without the journal.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Container, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import optuna
from optuna.distributions import BaseDistribution
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import FrozenTrial, TrialState

from tunefw.errors import last_line
from tunefw.recipe.numbers import finite_or_none
from tunefw.recipe.objective import Objective
from tunefw.recipe.space import Constant, ParamSpec
from tunefw.report.optuna_terms import STATES, TRIAL_ID_ATTR, distribution, new_study
from tunefw.running.trial_events import TrialEvents
from tunefw.store.layout import reason

log = logging.getLogger(__name__)


class OptunaJournalCallback(TrialEvents):
    """Writes each trial's events into the study ``study_name`` of the journal at ``path``."""

    def __init__(
        self,
        field: str,
        path: Path,
        study_name: str,
        space: Mapping[str, ParamSpec],
        objective: Objective,
        early_stopped: Container[str],
    ) -> None:
        super().__init__(early_stopped)
        self.field = field
        self.path = path
        self.study_name = study_name
        self.space = {name: s for name, s in space.items() if not isinstance(s, Constant)}
        self.objective = objective
        self._storage: JournalStorage | None = None
        self._study_id = -1
        self._numbers: dict[str, int] = {}
        """Optuna's trial id of each stored trial in the journal."""
        self._finished: set[str] = set()
        """Stored trials whose Optuna trial has ended: nothing more is written for them."""
        self._last: dict[str, float] = {}
        """Each running trial's latest primary value: a pruned trial's value."""
        self._latest_result: dict[str, dict[str, Any]] = {}
        """Each running trial's latest result: its values and constraints when it ends."""

    def setup(self, *args: Any, **info: Any) -> None:
        """Open the journal and create the study, or take up the one a resumed run wrote."""
        try:
            self._open()
        except Exception as exc:  # a journal problem must never stop the run
            self._give_up(exc)

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        storage = JournalStorage(JournalFileBackend(str(self.path)))
        if self.study_name not in {s.study_name for s in storage.get_all_studies()}:
            new_study(storage, self.study_name, self.objective)
        self._study_id = storage.get_study_id_from_name(self.study_name)
        for trial in storage.get_all_trials(self._study_id, deepcopy=False):
            stored = trial.user_attrs.get(TRIAL_ID_ATTR)
            if isinstance(stored, str):
                number = storage.get_trial_id_from_study_id_trial_number(
                    self._study_id, trial.number
                )
                self._numbers[stored] = number
                if trial.state.is_finished():
                    self._finished.add(stored)
        self._storage = storage

    def trial_started(self, trial_id: str, config: Mapping[str, Any]) -> None:
        if self._storage is None or trial_id in self._numbers:
            return
        storage = self._storage
        params = {name: config[name] for name in self.space if name in config}
        template = FrozenTrial(
            number=0,
            state=TrialState.RUNNING,
            value=None,
            values=None,
            datetime_start=datetime.now(),
            datetime_complete=None,
            params=params,
            distributions=self._distributions(params),
            user_attrs={TRIAL_ID_ATTR: trial_id},
            system_attrs={},
            intermediate_values={},
            trial_id=0,
        )

        def create() -> None:
            self._numbers[trial_id] = storage.create_new_trial(self._study_id, template)

        self._write(create)

    def trial_reported(
        self, trial_id: str, config: Mapping[str, Any], result: Mapping[str, Any]
    ) -> None:
        value = finite_or_none(result.get(self.objective.metric))
        number = self._numbers.get(trial_id)
        if self._storage is None or number is None or trial_id in self._finished:
            return
        if value is not None:
            storage = self._storage
            self._last[trial_id] = value
            step = int(result.get("training_iteration", 0))
            self._write(lambda: storage.set_trial_intermediate_value(number, step, value))
        self._latest_result[trial_id] = dict(result)

    def trial_ended(
        self, trial_id: str, config: Mapping[str, Any], status: str, error: str | None
    ) -> None:
        if trial_id not in self._numbers:
            self.trial_started(trial_id, config)
        number = self._numbers.get(trial_id)
        if self._storage is None or number is None or trial_id in self._finished:
            return
        storage = self._storage
        result = self._latest_result.pop(trial_id, {})
        state, values = self._outcome(STATES[status], result, self._last.pop(trial_id, None))
        violations = _constraints(self.objective, result) if state.is_finished() else {}

        def end() -> None:
            for key, violation in violations.items():
                storage.set_trial_system_attr(number, key, violation)
            storage.set_trial_state_values(number, state, values)

        self._write(end)
        self._finished.add(trial_id)

    def _outcome(
        self, state: TrialState, result: Mapping[str, Any], last: float | None
    ) -> tuple[TrialState, list[float] | None]:
        """The Optuna state and values of a trial that ended with ``result`` (as export)."""
        values = [finite_or_none(result.get(metric)) for metric in self.objective.targets]
        complete = [v for v in values if v is not None]
        if state is TrialState.COMPLETE:
            return (state, complete) if len(complete) == len(values) else (TrialState.FAIL, None)
        if state is TrialState.PRUNED and not self.objective.multi and last is not None:
            return state, [last]
        return state, None

    def _distributions(self, params: Mapping[str, Any]) -> dict[str, BaseDistribution]:
        return {name: distribution(self.space[name], [value]) for name, value in params.items()}

    def _write(self, write: Callable[[], None]) -> None:
        """Run one journal write; the first that fails warns once and ends the journal."""
        try:
            write()
        except Exception as exc:  # a journal problem must never stop the run
            self._give_up(exc)

    def _give_up(self, exc: Exception) -> None:
        log.warning(
            "%s: optuna journal %s: %s; the run goes on without it (Parquet has every "
            "result: tunefw export --to optuna-journal writes it later)",
            self.field,
            self.path,
            reason(exc) if isinstance(exc, OSError) else last_line(exc),
        )
        self._storage = None


def _constraints(objective: Objective, result: Mapping[str, Any]) -> dict[str, float]:
    """The system attributes Optuna keeps a trial's named constraints in."""
    frozen = optuna.trial.create_trial(state=TrialState.FAIL)
    for constraint in objective.constraints:
        violation = constraint.violation(finite_or_none(result.get(constraint.metric)))
        frozen.set_constraint(str(constraint), violation)
    return dict(frozen.system_attrs)
