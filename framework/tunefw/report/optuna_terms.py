"""The words tunefw and Optuna share for a study: trial states, directions, each
parameter's distribution, the attribute holding a trial's tunefw id, and an empty study with
the objective's directions and metric names. Used by the export (``report.study``) and by the
live journal (``running.loggers.optuna_journal``) alike, so both write the same study.
"""

from __future__ import annotations

import warnings
from typing import Any

import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.storages import BaseStorage
from optuna.study import StudyDirection
from optuna.trial import TrialState

from tunefw.recipe.objective import Objective
from tunefw.recipe.space import Constant, IntRange, Options, ParamSpec
from tunefw.store import columns as col

optuna.logging.set_verbosity(optuna.logging.WARNING)  # no "A new study created" on stderr

TRIAL_ID_ATTR = "tunefw_trial_id"
DIRECTIONS = {"max": StudyDirection.MAXIMIZE, "min": StudyDirection.MINIMIZE}
STATES = {
    col.TERMINATED: TrialState.COMPLETE,
    col.STOPPED_EARLY: TrialState.PRUNED,
    col.ERRORED: TrialState.FAIL,
    col.RUNNING: TrialState.RUNNING,
}


def distribution(spec: ParamSpec, seen: list[Any]) -> BaseDistribution:
    """Optuna's distribution of ``spec``, widened to hold the values ``seen``."""
    outside = list(dict.fromkeys(v for v in seen if not spec.contains(v)))
    if isinstance(spec, Options):
        return CategoricalDistribution([*spec.values, *outside])
    assert not isinstance(spec, Constant)
    low, high = min([spec.bounds[0], *outside]), max([spec.bounds[1], *outside])
    if isinstance(spec, IntRange):
        return IntDistribution(int(low), int(high), log=spec.log, step=1 if outside else spec.step)
    step = None if outside else getattr(spec, "step", None)
    return FloatDistribution(low, high, log=spec.log, step=step)


def new_study(storage: BaseStorage, name: str, objective: Objective) -> optuna.Study:
    """An empty study ``name`` in ``storage``, with the objective's directions and metric
    names."""
    study = optuna.create_study(
        storage=storage,
        study_name=name,
        directions=[DIRECTIONS[mode] for mode in objective.targets.values()],
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.set_metric_names(list(objective.targets))
    return study
