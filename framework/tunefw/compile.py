"""Compile a validated recipe into the four things ``ray.tune.Tuner`` takes.

Pure: it builds objects and starts nothing, so it is tested without Ray running.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ray import tune
from ray.tune import PlacementGroupFactory
from ray.tune.schedulers import TrialScheduler
from ray.tune.search import Searcher

from tunefw.budget import BudgetMeter, budgeted
from tunefw.data import SharedData
from tunefw.guards import RunGuard
from tunefw.plugins import ResolvedPlugins
from tunefw.protocols import SearchPlan
from tunefw.recipe import Recipe
from tunefw.scheduler import build_scheduler
from tunefw.store.layout import RAY, ExperimentLocation
from tunefw.store.writer import ResultWriter
from tunefw.trial import make_trial


@dataclass(frozen=True)
class CompiledExperiment:
    trial: Callable[..., None]
    resources: PlacementGroupFactory
    param_space: dict[str, Any]
    tune_config: tune.TuneConfig
    run_config: tune.RunConfig
    scheduler: TrialScheduler
    writer: ResultWriter
    guard: RunGuard

    def trainable(self, shared: SharedData | None) -> Any:
        """The trial function with its resources, and the data put in the object store.

        Needs a running Ray: ``tune.with_parameters`` puts ``shared`` in the object store once.
        """
        trial = self.trial if shared is None else tune.with_parameters(self.trial, shared=shared)
        return tune.with_resources(trial, self.resources)


def compile_experiment(
    recipe: Recipe,
    plugins: ResolvedPlugins,
    plan: SearchPlan,
    location: ExperimentLocation,
    *,
    callbacks: Sequence[tune.Callback] = (),
    import_paths: Sequence[str] = (),
    stopped_early: set[str] | None = None,
) -> CompiledExperiment:
    """Build the trainable, param space, ``TuneConfig`` and ``RunConfig`` for one run.

    Actors are reused between trials, and Ray Tune's JSON/CSV/TensorBoard loggers stay off
    (the runner sets ``TUNE_DISABLE_AUTO_CALLBACK_LOGGERS``): the Parquet store is the record.
    The scheduler adds the trials it stops early to ``stopped_early``, which the result writer
    (and any callback given the same set) reads.
    """
    stopped_early = set() if stopped_early is None else stopped_early
    scheduler = build_scheduler(recipe.scheduler, stopped_early, plugins.space)
    config_types = {name: spec.arrow_type() for name, spec in plugins.space.items()}
    guard = RunGuard()
    totals = recipe.resources.totals()
    writer = ResultWriter(location, config_types, stopped_early, guard, resources=totals)
    limit = concurrency_limit(plan, recipe.search.max_concurrent)
    search_alg, meters = plan.search_alg, []
    if recipe.budget is not None:
        meters = [BudgetMeter(recipe.budget, totals)]
        search_alg, limit = budgeted(search_alg, limit, meters[0]), None
    tune_config = tune.TuneConfig(
        metric=recipe.objective.metric,
        mode=recipe.objective.mode,
        num_samples=plan.num_samples,
        search_alg=search_alg,
        scheduler=scheduler,
        max_concurrent_trials=limit,
        reuse_actors=True,
    )
    run_config = tune.RunConfig(
        name=RAY,
        storage_path=location.path,
        storage_filesystem=location.storage.fs,
        callbacks=[writer, guard, *meters, *callbacks],
        stop=guard,
        failure_config=tune.FailureConfig(max_failures=recipe.failure.max_retries),
        verbose=0,
    )
    return CompiledExperiment(
        trial=make_trial(recipe, import_paths),
        resources=recipe.resources.for_ray(),
        param_space=plan.param_space,
        tune_config=tune_config,
        run_config=run_config,
        scheduler=scheduler,
        writer=writer,
        guard=guard,
    )


def concurrency_limit(plan: SearchPlan, max_concurrent: int | None) -> int | None:
    """``TuneConfig.max_concurrent_trials`` for a plan: a Searcher is limited by Ray Tune;
    Ray's BasicVariantGenerator enforces its own ``max_concurrent`` (Ray refuses both)."""
    return max_concurrent if isinstance(plan.search_alg, Searcher) else None


def total_trials(plan: SearchPlan) -> int:
    """How many trials the plan starts: samples times the size of any grid in the space."""
    total = plan.num_samples
    for value in plan.param_space.values():
        if isinstance(value, dict) and "grid_search" in value:
            total *= len(value["grid_search"])
    return total
