"""What every Optuna-backed strategy shares: the space as a define-by-run function, the
searcher that hands Optuna the trials' constraint values, and the checks on what a sampler
can model.

Ray Tune's ``OptunaSearch`` drives the study (ask on suggest, tell on completion, pickled with
the experiment for resume). The space goes in as a define-by-run function so that conditional
parameters are asked for only when their ``when`` holds, parents first. An ordered parameter
(``ordinal``, a ``choice`` of numbers) is asked for as the integer position of its value, so
the sampler models its order (for a geometric sequence, the position is its log scale); the
config gets the value itself.
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
from optuna.trial import TrialState
from ray.tune.search.optuna import OptunaSearch

from tunefw import compat
from tunefw.errors import RecipeError, SpaceError
from tunefw.plugin_api.capabilities import LearnsFromTrials
from tunefw.plugin_api.protocols import SearchPlan, SearchSettings
from tunefw.recipe.objective import Constraint
from tunefw.recipe.space import (
    Constant,
    Grid,
    IntRange,
    LogUniform,
    Options,
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

CONSTRAINTS_KEY: str = compat.OPTUNA_CONSTRAINTS_KEY.get()


def distribution(spec: ParamSpec) -> BaseDistribution:
    """The Optuna distribution a parameter is sampled from (an ordered one's: its positions)."""
    if isinstance(spec, Uniform):
        return FloatDistribution(*spec.bounds, step=spec.step)
    if isinstance(spec, LogUniform):
        return FloatDistribution(*spec.bounds, log=True)
    if isinstance(spec, IntRange):
        return IntDistribution(*spec.bounds, log=spec.log, step=spec.step)
    if isinstance(spec, Options) and not isinstance(spec, Grid):
        order = spec.order()
        if order is not None:
            return IntDistribution(0, len(order) - 1)
        return CategoricalDistribution(list(spec.values))
    raise SpaceError(f"{spec.kind} cannot be sampled by Optuna")


def to_optuna(spec: ParamSpec, value: Any) -> Any:
    """A config's value as Optuna holds it: an ordered parameter's position, else itself."""
    order = spec.order() if isinstance(spec, Options) else None
    return value if order is None else order.index(value)


def from_optuna(spec: ParamSpec, value: Any) -> Any:
    """The config's value for what Optuna suggested (``to_optuna`` undone)."""
    order = spec.order() if isinstance(spec, Options) else None
    return value if order is None else order[value]


def suggest(trial: Any, name: str, spec: ParamSpec) -> Any:
    """Ask an Optuna trial for one parameter's value, as Optuna holds it (``to_optuna``)."""
    dist = distribution(spec)
    if isinstance(dist, FloatDistribution):
        return trial.suggest_float(name, dist.low, dist.high, step=dist.step, log=dist.log)
    if isinstance(dist, IntDistribution):
        return trial.suggest_int(name, dist.low, dist.high, step=dist.step, log=dist.log)
    assert isinstance(dist, CategoricalDistribution)
    return trial.suggest_categorical(name, list(dist.choices))


def _ordered(spec: ParamSpec) -> bool:
    return isinstance(spec, Options) and spec.order() is not None


class SpaceSampler:
    """The space as a picklable define-by-run function.

    Asks for each active parameter, parents before children, and returns the constants and the
    ordered parameters' values, which Ray Tune puts in the config over what Optuna holds.
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
            if isinstance(spec, Constant):
                config[name] = spec.value
            else:
                config[name] = from_optuna(spec, suggest(trial, name, spec))
        return {name: v for name, v in config.items() if self._overrides(name)}

    def _overrides(self, name: str) -> bool:
        spec = self.space[name]
        return isinstance(spec, Constant) or _ordered(spec)

    def optuna_params(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """The sampled parameters of ``config`` as Optuna holds them."""
        return {
            name: to_optuna(spec, config[name])
            for name, spec in self.space.items()
            if name in config and not isinstance(spec, Constant)
        }


class ConstrainedOptunaSearch(OptunaSearch, LearnsFromTrials):
    """Ray Tune's OptunaSearch, telling Optuna each trial's constraint violations too.

    They are set on the trial before it is told (``Trial.set_constraint``), where Optuna's
    constraint-aware samplers (TPE, GP, NSGA-II) read them. A resumed run teaches it the
    stored trials (``learn``), as Optuna's own studies resume from their stored trials.
    """

    def __init__(self, *args: Any, constraints: Sequence[Constraint] = (), **kwargs: Any) -> None:
        self._constraints = tuple(constraints)
        self._expected: dict[str, str] = {}
        """Reruns held as running Optuna trials: their config's key to their trial id."""
        super().__init__(*args, **kwargs)
        compat.check(self, compat.OPTUNA_SEARCH_ATTRIBUTES)

    def on_trial_complete(
        self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False
    ) -> None:
        ot_trial = self._ot_trials.get(trial_id)
        if self._constraints and ot_trial is not None and trial_id not in self._completed_trials:
            for constraint in self._constraints:
                violation = constraint.violation((result or {}).get(constraint.metric))
                ot_trial.set_constraint(str(constraint), violation)
        super().on_trial_complete(trial_id, result, error)

    def expect(self, config: Mapping[str, Any]) -> None:
        """Ask Optuna for ``config`` itself (enqueued), so the study holds it as running, in
        its place: later trials are numbered, and model it, as in the run that stored it."""
        space: SpaceSampler = self._space
        key = repr(sorted(config.items()))
        self._expected[key] = f"tunefw-rerun-{len(self._expected)}"
        self._ot_study.enqueue_trial(space.optuna_params(config))
        self.suggest(self._expected[key])

    def learn(self, config: Mapping[str, Any], result: Mapping[str, Any] | None) -> None:
        """Tell the study how ``config`` ended: an expected rerun as its running trial, any
        other as a new finished trial (failed when ``result`` is None)."""
        rerun = self._expected.pop(repr(sorted(config.items())), None)
        if rerun is not None:
            self.on_trial_complete(rerun, dict(result or {}), error=result is None)
            return
        space: SpaceSampler = self._space
        sampled = {n: s for n, s in space.space.items() if not isinstance(s, Constant)}
        try:
            params = space.optuna_params(config)
        except ValueError:  # a stored value outside today's space: nothing to learn from
            return
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
                system_attrs={CONSTRAINTS_KEY: constraints} if complete and constraints else None,
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
    space: Mapping[str, ParamSpec],
    settings: SearchSettings,
    sampler: BaseSampler,
    strategy: str,
    searcher: type[ConstrainedOptunaSearch] = ConstrainedOptunaSearch,
) -> SearchPlan:
    """A plan whose ``searcher`` asks ``sampler`` for every config; the space must be
    sampleable."""
    refuse_grid(space, strategy)
    targets = settings.targets
    multi = len(targets) > 1
    sampler_space = SpaceSampler(space)
    points = [sampler_space.optuna_params(point) for point in settings.initial_points]
    search_alg = searcher(
        space=sampler_space,
        metric=list(targets) if multi else settings.metric,
        mode=list(targets.values()) if multi else settings.mode,
        points_to_evaluate=points or None,
        sampler=sampler,
        constraints=settings.constraints,
    )
    return SearchPlan(param_space={}, search_alg=search_alg, num_samples=settings.budget)
