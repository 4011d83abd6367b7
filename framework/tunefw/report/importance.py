"""Parameter importance for the primary objective: fANOVA on the experiment's Optuna study.

Why fANOVA (``optuna.importance.FanovaImportanceEvaluator``): it fits a random forest to
(parameters -> score) and splits the forest's variance among the parameters, so a handful of
trials is enough for a rough ranking. PED-ANOVA, Optuna's default, compares the trials in the
top 10 % with the rest and wants at least five in that top share, i.e. fifty trials or more;
mean decrease in impurity favours continuous parameters over categorical ones. Trials
stopped early count with their last score: under ASHA they are most of the trials, and
without them the forest would see only the survivors, all from the good region. The forest is
seeded, so the same store gives the same ranking.
"""

from __future__ import annotations

from optuna.importance import FanovaImportanceEvaluator, get_param_importances
from optuna.storages import InMemoryStorage
from optuna.trial import FrozenTrial, TrialState

from tunefw.report import Skipped
from tunefw.report.study import create_study, frozen_trials
from tunefw.report.trials import StoredExperiment, varying

MIN_TRIALS = 5


def scored_trials(experiment: StoredExperiment) -> list[FrozenTrial]:
    """The trials with a final score, those stopped early as complete ones."""
    scored = []
    for trial in frozen_trials(experiment):
        if trial.state in (TrialState.COMPLETE, TrialState.PRUNED) and trial.values is not None:
            trial.state = TrialState.COMPLETE
            scored.append(trial)
    return scored


def param_importances(experiment: StoredExperiment) -> dict[str, float] | Skipped:
    """Each varying parameter's share of the score's variance, most important first."""
    scored = scored_trials(experiment)
    params = varying(experiment.sampled, [t.params for t in scored])
    if len(params) < 2:
        names = ", ".join(params) or "none"
        return Skipped(
            "importance ranks two or more parameters that every scored trial has and that "
            f"take several values; this experiment has: {names}"
        )
    if len(scored) < MIN_TRIALS:
        return Skipped(f"{len(scored)} scored trials: too few to fit (it needs {MIN_TRIALS})")
    study = create_study(experiment, InMemoryStorage(), scored)
    found = get_param_importances(
        study,
        evaluator=FanovaImportanceEvaluator(seed=0),
        params=params,
        target=lambda t: t.values[0],
    )
    return {name: float(value) for name, value in found.items()}
