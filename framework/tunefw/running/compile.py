"""Compile a validated recipe into the four things ``ray.tune.Tuner`` takes.

Pure: it builds objects and starts nothing, so it is tested without Ray running.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import ray
from ray import tune
from ray.tune import PlacementGroupFactory
from ray.tune.schedulers import TrialScheduler
from ray.tune.search import Searcher

from tunefw.plugin_api.capabilities import DrivesTrials
from tunefw.plugin_api.protocols import SearchPlan
from tunefw.plugin_api.resolve import ResolvedPlugins
from tunefw.prepare.budget import BudgetMeter
from tunefw.prepare.data import SharedData
from tunefw.prepare.pack_searcher import PackSearcher
from tunefw.prepare.rung_replay import ReplaysStoredResults
from tunefw.prepare.schedulers import EndsWithTheStudy, build_scheduler
from tunefw.recipe.logger_sections import LoggedRun
from tunefw.recipe.scheduler_sections import Asha, NoScheduler
from tunefw.recipe.schema import Recipe
from tunefw.running.guards import RunGuard
from tunefw.running.loggers import logger_callbacks
from tunefw.running.result_writer import ResultWriter
from tunefw.running.rung_board import start_board
from tunefw.running.start_gate import closed_by, gated
from tunefw.running.stopping.monitor import StudyMonitor
from tunefw.running.trial import make_trial
from tunefw.store.history import StoredTrial
from tunefw.store.layout import RAY, ExperimentLocation


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
    start_board: Callable[[], Any] | None = None
    """Lean mode: starts the actor holding the rungs the packs share."""
    monitor: StudyMonitor | None = None
    """The recipe's stop rules, judging each finished trial."""
    boards: list[Any] = field(default_factory=list)
    """The rung boards started for this run: ``release`` ends them. ``tune.with_parameters``
    keeps its arguments for the driver's lifetime, so a board left alone would outlive its
    run in a notebook or any other driver that runs several."""

    def trainable(self, shared: SharedData | None) -> Any:
        """The trial function with its resources, the data put in the object store and, in
        lean mode, a new rung board.

        Needs a running Ray: ``tune.with_parameters`` puts ``shared`` in the object store once.
        """
        params: dict[str, Any] = {}
        if shared is not None:
            params["shared"] = shared
        if self.start_board is not None:
            params["board"] = self.start_board()
            self.boards.append(params["board"])
        trial = tune.with_parameters(self.trial, **params) if params else self.trial
        return tune.with_resources(trial, self.resources)

    def release(self) -> None:
        """End the actors this run started (its trials have ended)."""
        while self.boards:
            ray.kill(self.boards.pop())

    def tuner(self, shared: SharedData | None) -> tune.Tuner:
        """A new ``Tuner`` for this experiment (needs a running Ray, as ``trainable`` does)."""
        return tune.Tuner(
            self.trainable(shared),
            param_space=self.param_space,
            tune_config=self.tune_config,
            run_config=self.run_config,
        )


def compile_experiment(
    recipe: Recipe,
    plugins: ResolvedPlugins,
    plan: SearchPlan,
    location: ExperimentLocation,
    *,
    callbacks: Sequence[tune.Callback] = (),
    import_paths: Sequence[str] = (),
    stopped_early: set[str] | None = None,
    replayed: Sequence[StoredTrial] = (),
    monitor: StudyMonitor | None = None,
) -> CompiledExperiment:
    """Build the trainable, param space, ``TuneConfig`` and ``RunConfig`` for one run.

    Actors are reused between trials, and Ray Tune's JSON/CSV/TensorBoard loggers stay off
    (the runner sets ``TUNE_DISABLE_AUTO_CALLBACK_LOGGERS``): the Parquet store is the record;
    the recipe's ``loggers`` add their callbacks.
    The scheduler adds the trials it stops early to ``stopped_early``, which the result writer
    (and any callback given the same set) reads. ASHA's rungs start with the ``replayed``
    trials of a resumed run. A ``monitor`` of the recipe's stop rules (``runner`` makes it,
    with the stored evidence on resume) and the budget's meter stop new trials from starting.
    """
    stopped_early = set() if stopped_early is None else stopped_early
    lean = recipe.lean is not None  # ASHA runs on the packs' rung board, not on Ray's trials
    section = NoScheduler() if lean else recipe.scheduler
    scheduler = build_scheduler(section, stopped_early, plugins.space, recipe.objective)
    if isinstance(scheduler, ReplaysStoredResults):
        scheduler.replayed = replayed
    config_types = {name: spec.arrow_type() for name, spec in plugins.space.items()}
    guard = RunGuard()
    totals = recipe.resources.totals()
    asha = recipe.scheduler if isinstance(recipe.scheduler, Asha) else None
    writer = ResultWriter(
        location,
        config_types,
        stopped_early,
        guard,
        resources=totals,
        strategy=recipe.search.strategy,
        suggested_by=plan.suggested_by,
    )
    limit = concurrency_limit(plan, recipe.search.max_concurrent)
    search_alg = plan.search_alg
    gates: list[BudgetMeter | StudyMonitor] = []
    if recipe.budget is not None:
        gates.append(BudgetMeter(recipe.budget, totals))
    if monitor is not None:
        gates.append(monitor)
    if gates:
        search_alg, limit = gated(search_alg, limit, gates), None
        if isinstance(scheduler, EndsWithTheStudy):
            scheduler.study_over = lambda: closed_by(gates) is not None
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
        callbacks=[
            writer,
            guard,
            *gates,
            *logger_callbacks(
                recipe.loggers, LoggedRun(location, plugins.space, recipe.objective, stopped_early)
            ),
            *callbacks,
        ],
        stop=guard,
        failure_config=tune.FailureConfig(max_failures=recipe.failure.max_retries),
        verbose=0,
    )
    return CompiledExperiment(
        trial=make_trial(
            recipe, import_paths, search_drives_trials=isinstance(plugins.search, DrivesTrials)
        ),
        resources=recipe.resources.for_ray(),
        param_space=plan.param_space,
        tune_config=tune_config,
        run_config=run_config,
        scheduler=scheduler,
        writer=writer,
        guard=guard,
        start_board=partial(
            start_board, asha, recipe.objective.metric, recipe.objective.mode, replayed
        )
        if lean
        else None,
        monitor=monitor,
    )


def concurrency_limit(plan: SearchPlan, max_concurrent: int | None) -> int | None:
    """``TuneConfig.max_concurrent_trials`` for a plan: a Searcher is limited by Ray Tune;
    Ray's BasicVariantGenerator enforces its own ``max_concurrent`` (Ray refuses both)."""
    return max_concurrent if isinstance(plan.search_alg, Searcher) else None


def total_trials(plan: SearchPlan) -> int:
    """How many trials the plan starts (configs, in lean mode): samples times the size of
    any grid in the space."""
    if isinstance(plan.search_alg, PackSearcher):
        return plan.search_alg.source.total
    total = plan.num_samples
    for value in plan.param_space.values():
        if isinstance(value, dict) and "grid_search" in value:
            total *= len(value["grid_search"])
    return total
