"""What every Optuna-backed strategy shares: the space as a define-by-run function, the
searcher that hands Optuna the trials' constraint values, and the checks on what a sampler
can model.

Ray Tune's ``OptunaSearch`` drives the study (ask on suggest, tell on completion, pickled with
the experiment for resume). The space goes in as a define-by-run function so that conditional
parameters are asked for only when their ``when`` holds, parents first.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.samplers import BaseSampler
from optuna.samplers._base import _CONSTRAINTS_KEY
from optuna.trial import TrialState
from ray.tune.search.optuna import OptunaSearch

from tunefw.errors import RecipeError, SpaceError
from tunefw.objective import Constraint
from tunefw.protocols import SearchPlan, SearchSettings
from tunefw.resume.learning import LearnsFromTrials
from tunefw.space import (
    Choice,
    Constant,
    Grid,
    IntRange,
    LogUniform,
    ParamSpec,
    Uniform,
    conditional,
    sampling_order,
)

optuna.logging.set_verbosity(optuna.logging.WARNING)
warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
warnings.filterwarnings("ignore", message="Define-by-run function passed in the `space`")
"""tunefw picks TPE's grouping, QMC and CMA-ES margins on purpose, and a model-based sampler
takes its time inside the define-by-run function by design: these notices are noise."""


def suggest(trial: Any, name: str, spec: ParamSpec) -> Any:
    """Ask an Optuna trial for one parameter's value."""
    if isinstance(spec, Uniform):
        return trial.suggest_float(name, *spec.bounds, step=spec.step)
    if isinstance(spec, LogUniform):
        return trial.suggest_float(name, *spec.bounds, log=True)
    if isinstance(spec, IntRange):
        return trial.suggest_int(name, *spec.bounds, step=spec.step, log=spec.log)
    if isinstance(spec, Choice):
        return trial.suggest_categorical(name, list(spec.values))
    raise SpaceError(f"search.space.{name}: {spec.kind} cannot be sampled by Optuna")


class SpaceSampler:
    """The space as a picklable define-by-run function.

    Asks for each active parameter, parents before children, and returns the constants, which
    Ray Tune merges into the config.
    """

    def __init__(self, space: Mapping[str, ParamSpec]) -> None:
        self.space = dict(space)
        self.order = sampling_order(self.space)

    def __call__(self, trial: Any) -> dict[str, Any]:
        config: dict[str, Any] = {}
        for name in self.order:
            spec = self.space[name]
            if not spec.active(config):
                continue
            config[name] = spec.value if isinstance(spec, Constant) else suggest(trial, name, spec)
        return {name: v for name, v in config.items() if isinstance(self.space[name], Constant)}


def distribution(spec: ParamSpec) -> BaseDistribution:
    """The Optuna distribution ``suggest`` samples ``spec`` from."""
    if isinstance(spec, Uniform):
        return FloatDistribution(*spec.bounds, step=spec.step)
    if isinstance(spec, LogUniform):
        return FloatDistribution(*spec.bounds, log=True)
    if isinstance(spec, IntRange):
        return IntDistribution(*spec.bounds, log=spec.log, step=spec.step)
    if isinstance(spec, Choice):
        return CategoricalDistribution(list(spec.values))
    raise SpaceError(f"{spec.kind} cannot be sampled by Optuna")


class ConstrainedOptunaSearch(OptunaSearch, LearnsFromTrials):
    """Ray Tune's OptunaSearch, telling Optuna each trial's constraint violations too.

    They are set on the trial before it is told (``Trial.set_constraint``), where Optuna's
    constraint-aware samplers (TPE, GP, NSGA-II) read them. A resumed run teaches it the
    stored trials (``learn``), as Optuna's own studies resume from their stored trials.
    """

    def __init__(self, *args: Any, constraints: Sequence[Constraint] = (), **kwargs: Any) -> None:
        self._constraints = tuple(constraints)
        super().__init__(*args, **kwargs)

    def on_trial_complete(
        self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False
    ) -> None:
        ot_trial = self._ot_trials.get(trial_id)
        if self._constraints and ot_trial is not None and trial_id not in self._completed_trials:
            for constraint in self._constraints:
                violation = constraint.violation((result or {}).get(constraint.metric))
                ot_trial.set_constraint(str(constraint), violation)
        super().on_trial_complete(trial_id, result, error)

    def learn(self, config: Mapping[str, Any], result: Mapping[str, Any] | None) -> None:
        """Add ``config`` to the study as a finished trial (failed when ``result`` is None)."""
        space: SpaceSampler = self._space
        sampled = {n: s for n, s in space.space.items() if not isinstance(s, Constant)}
        params = {n: config[n] for n in sampled if n in config}
        metrics = self._metric if isinstance(self._metric, list) else [self._metric]
        values = [(result or {}).get(m) for m in metrics]
        complete = result is not None and all(isinstance(v, (int, float)) for v in values)
        constraints = [c.violation((result or {}).get(c.metric)) for c in self._constraints]
        try:
            trial = optuna.trial.create_trial(
                params=params,
                distributions={n: distribution(sampled[n]) for n in params},
                values=[float(v) for v in values] if complete else None,
                state=TrialState.COMPLETE if complete else TrialState.FAIL,
                system_attrs={_CONSTRAINTS_KEY: constraints} if complete and constraints else None,
            )
        except ValueError:  # a stored value outside today's space: nothing to learn from
            return
        self._ot_study.add_trial(trial)

    def on_pause(self, trial_id: str) -> None:
        """HyperBand for BOHB pauses trials at its rungs; their Optuna trials stay running."""

    def on_unpause(self, trial_id: str) -> None:
        """A paused trial goes on with the config it was suggested."""


def refuse_grid(space: Mapping[str, ParamSpec], strategy: str) -> None:
    for name, spec in space.items():
        if isinstance(spec, Grid):
            raise SpaceError(
                f"search.space.{name}: grid visits every value, which {strategy} search does "
                "not do; use choice, or search.strategy: grid"
            )


def refuse_conditional(space: Mapping[str, ParamSpec], strategy: str, why: str) -> None:
    names = conditional(space)
    if names:
        raise SpaceError(
            f"search.space.{names[0]}.when: {strategy} cannot take conditional parameters "
            f"({why}); use bayesian (TPE), nsga2 or random"
        )


def refuse_multi_objective(settings: SearchSettings, strategy: str) -> None:
    if len(settings.targets) > 1:
        raise RecipeError(
            f"search.strategy: {strategy} optimises a single objective, but objective.metrics "
            f"has {len(settings.targets)}; use nsga2 or bayesian"
        )


def optuna_plan(
    space: Mapping[str, ParamSpec], settings: SearchSettings, sampler: BaseSampler, strategy: str
) -> SearchPlan:
    """A plan whose searcher asks ``sampler`` for every config; the space must be sampleable."""
    refuse_grid(space, strategy)
    targets = settings.targets
    multi = len(targets) > 1
    searcher = ConstrainedOptunaSearch(
        space=SpaceSampler(space),
        metric=list(targets) if multi else settings.metric,
        mode=list(targets.values()) if multi else settings.mode,
        points_to_evaluate=list(settings.initial_points) or None,
        sampler=sampler,
        constraints=settings.constraints,
    )
    return SearchPlan(param_space={}, search_alg=searcher, num_samples=settings.budget)
