"""An experiment as an Optuna study: what ``tunefw export`` writes to a journal file, and what
the report's parameter importance is fitted on.

Each parameter's distribution comes from the search space as run; values outside it (a warm
start from an earlier, wider space) widen it, since Optuna refuses a trial whose value its
distribution does not hold. Trial states: ``terminated`` is COMPLETE, ``stopped_early``
PRUNED (with its last primary value, as Optuna stores a pruned single-objective trial),
``errored`` FAIL, ``running`` RUNNING; a terminated trial without a finite value for every
objective is FAIL. Each trial keeps its tunefw id (user attribute ``tunefw_trial_id``), its
start and end times, the primary metric per iteration as intermediate values, and its
constraint violations as Optuna's named constraints.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import optuna
from optuna.distributions import BaseDistribution
from optuna.storages import BaseStorage, JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import FrozenTrial, TrialState

from tunefw.errors import StoreError
from tunefw.recipe.space import Constant
from tunefw.report.optuna_terms import STATES, TRIAL_ID_ATTR, distribution, new_study
from tunefw.report.trials import StoredExperiment, Trial
from tunefw.store.layout import reason


def distributions(experiment: StoredExperiment) -> dict[str, BaseDistribution]:
    """Each sampled parameter's distribution, widened to hold every stored value."""
    return {
        name: distribution(spec, [t.config[name] for t in experiment.trials if name in t.config])
        for name, spec in experiment.space.items()
        if not isinstance(spec, Constant)
    }


def frozen_trials(experiment: StoredExperiment) -> list[FrozenTrial]:
    """The experiment's trials as Optuna trials, in the order they started."""
    spaces = distributions(experiment)
    multi = experiment.objective.multi
    return [_frozen(number, t, spaces, multi) for number, t in enumerate(experiment.trials)]


def _frozen(
    number: int, trial: Trial, spaces: dict[str, BaseDistribution], multi: bool
) -> FrozenTrial:
    state = STATES[trial.status]
    values: Sequence[float] | None = None
    if all(v is not None for v in trial.values):
        values = [v for v in trial.values if v is not None]
    if state is TrialState.COMPLETE and values is None:
        state = TrialState.FAIL
    if state in (TrialState.FAIL, TrialState.RUNNING) or (state is TrialState.PRUNED and multi):
        values = None
    frozen = FrozenTrial(
        number=number,
        state=state,
        value=None,
        values=values,
        datetime_start=trial.started,
        datetime_complete=trial.ended if state.is_finished() else None,
        params=dict(trial.config),
        distributions={name: spaces[name] for name in trial.config},
        user_attrs={TRIAL_ID_ATTR: trial.trial_id},
        system_attrs={},
        intermediate_values=dict(trial.curve),
        trial_id=number,
    )
    for name, violation in trial.constraints.items():
        frozen.set_constraint(name, violation)
    return frozen


def create_study(
    experiment: StoredExperiment, storage: BaseStorage, trials: Sequence[FrozenTrial]
) -> optuna.Study:
    """A study named after the experiment, with its directions and metric names, holding
    ``trials``."""
    study = new_study(storage, experiment.name, experiment.objective)
    study.add_trials(trials)
    return study


def export_journal(experiment: StoredExperiment, path: Path) -> optuna.Study:
    """Write the experiment as a study into the Optuna journal file ``path``: a new file, or a
    journal holding other studies."""
    trials = frozen_trials(experiment)
    try:
        if path.is_file() and path.stat().st_size and not _is_journal(path):
            raise StoreError(f"{path} exists and is not an Optuna journal file")
        storage = JournalStorage(JournalFileBackend(str(path)))
        if experiment.name in {s.study_name for s in storage.get_all_studies()}:
            raise StoreError(
                f"{path} already holds a study named {experiment.name!r}; write to another file"
            )
        return create_study(experiment, storage, trials)
    except OSError as exc:
        raise StoreError(f"{path}: cannot write: {reason(exc)}") from None


def _is_journal(path: Path) -> bool:
    """Whether the file starts with a journal entry (Optuna only refuses other files after
    appending to them)."""
    with path.open("rb") as f:
        first = f.readline()
    try:
        entry = json.loads(first)
    except ValueError:
        return False
    return isinstance(entry, dict) and "op_code" in entry
