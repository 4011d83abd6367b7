"""Run a compiled experiment on embedded or remote Ray, and record it in the store."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from ray import tune

from tunefw.budget import Budgeted
from tunefw.cluster.shared_storage import check_shared_storage
from tunefw.compile import CompiledExperiment, compile_experiment
from tunefw.errors import StoreError
from tunefw.pending_trials import limit_pending_trials
from tunefw.prepare import Prepared
from tunefw.ray_connection import ray_session
from tunefw.recipe import Recipe
from tunefw.store import columns as col
from tunefw.store.compaction import compact
from tunefw.store.layout import ExperimentLocation, prepare, remove
from tunefw.store.manifest import Manifest, load_manifest, new_manifest, stamp, write_manifest
from tunefw.store.ranking import BestTrial, best_trial
from tunefw.store.reader import final_rows, read_results

#: Set for the driver: Parquet is the record, so Ray Tune's own loggers and progress
#: tables stay off (a user may still set these variables to turn them back on).
DRIVER_ENV = {
    "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS": "1",
    "RAY_AIR_NEW_OUTPUT": "0",
}


@contextmanager
def quiet_ray_tune() -> Iterator[None]:
    """Ray Tune logs each trial's traceback; tunefw stores it and reports a count instead."""
    loggers = [logging.getLogger(name) for name in ("ray.tune", "ray.train")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


@dataclass(frozen=True)
class RunSummary:
    location: ExperimentLocation
    status: str
    trials: int
    stopped_early: int
    errored: int
    rows: int
    best: BestTrial | None
    wall_time_s: float


@dataclass(frozen=True)
class RunOptions:
    """How to run: where Ray is, extra callbacks, and where trial code is imported from.

    The scheduler adds the trials it stops early to ``stopped_early``; callbacks given the
    same set (a progress display) can read it.
    """

    address: str | None = None
    callbacks: Sequence[tune.Callback] = ()
    import_paths: Sequence[str] = ()
    stopped_early: set[str] = field(default_factory=set)


def _compile(
    prepared: Prepared, location: ExperimentLocation, options: RunOptions
) -> CompiledExperiment:
    return compile_experiment(
        prepared.recipe,
        prepared.plugins,
        prepared.plan,
        location,
        callbacks=options.callbacks,
        import_paths=options.import_paths,
        stopped_early=options.stopped_early,
    )


def run_experiment(
    prepared: Prepared,
    location: ExperimentLocation,
    options: RunOptions | None = None,
    *,
    overwrite: bool = False,
) -> RunSummary:
    """Start a new experiment at ``location``; every reported result lands there.

    An experiment of the same name is refused unless ``overwrite`` (then it is deleted first):
    nothing stored is replaced silently.
    """
    options = options or RunOptions()
    if location.exists():
        if not overwrite:
            raise StoreError(
                f"experiment {location.name!r} already exists in {location.storage.display}; "
                f"`tunefw resume {location.name}` continues it, --overwrite replaces it"
            )
        remove(location)
    prepare(location)
    manifest = new_manifest(location, prepared.recipe, prepared.plugins)
    manifest["import_paths"] = list(options.import_paths)
    compiled = _compile(prepared, location, options)

    def tuner() -> tune.Tuner:
        return tune.Tuner(
            compiled.trainable(prepared.shared),
            param_space=compiled.param_space,
            tune_config=compiled.tune_config,
            run_config=compiled.run_config,
        )

    return _execute(prepared.recipe, location, compiled, manifest, tuner, options.address)


def resume_experiment(
    prepared: Prepared,
    location: ExperimentLocation,
    options: RunOptions | None = None,
    *,
    restart_errored: bool = False,
) -> RunSummary:
    """Continue a stopped or killed experiment through Ray Tune's restore.

    Ray Tune restores its trials and the searcher's state from the experiment directory.
    Trials that had not finished start again from their last checkpoint, or from scratch;
    iterations they report again replace the stored rows (see ``store.compaction``).
    """
    options = options or RunOptions()
    manifest = stamp(load_manifest(location), "running", resumed=True)
    compiled = _compile(prepared, location, options)
    fs = location.storage.fs

    def tuner() -> tune.Tuner:
        if not tune.Tuner.can_restore(location.ray_dir, storage_filesystem=fs):
            raise StoreError(
                f"{location.name}: Ray Tune saved no state to resume from; "
                "run it again with --overwrite"
            )
        restored = tune.Tuner.restore(
            location.ray_dir,
            trainable=compiled.trainable(prepared.shared),
            param_space=compiled.param_space,
            storage_filesystem=fs,
            restart_errored=restart_errored,
        )
        _use_fresh_callbacks(restored, compiled)
        return restored

    return _execute(prepared.recipe, location, compiled, manifest, tuner, options.address)


def _use_fresh_callbacks(tuner: tune.Tuner, compiled: CompiledExperiment) -> None:
    """Swap the callbacks and scheduler Ray Tune unpickled from ``tuner.pkl`` for new ones.

    Ray Tune restores the run config as it was pickled at the start; the runner needs its
    own live writer, guard, scheduler and budget meter to read back from. Ray exposes no
    public setter.
    """
    internal = tuner._local_tuner
    assert internal is not None, "Ray Client tuners are not restored here"
    internal.get_run_config().callbacks = compiled.run_config.callbacks
    internal.get_run_config().stop = compiled.run_config.stop
    internal._tune_config.scheduler = compiled.tune_config.scheduler
    restored, fresh = internal._tune_config.search_alg, compiled.tune_config.search_alg
    if isinstance(restored, Budgeted) and isinstance(fresh, Budgeted):
        restored.meter = fresh.meter  # the live one, among the callbacks: the budget restarts


def _execute(
    recipe: Recipe,
    location: ExperimentLocation,
    compiled: CompiledExperiment,
    manifest: Manifest,
    make_tuner: Callable[[], tune.Tuner],
    address: str | None,
) -> RunSummary:
    started = time.monotonic()
    write_manifest(location, manifest)
    os.environ.update({k: v for k, v in DRIVER_ENV.items() if k not in os.environ})
    status = "failed"
    try:
        with ray_session(address), quiet_ray_tune():
            check_shared_storage(location)
            with limit_pending_trials(compiled.resources.required_resources):
                make_tuner().fit()
        compiled.writer.close()
        if compiled.guard.error:
            status = "failed"
        elif compiled.writer.unfinished:  # Ray Tune ended the run early on SIGINT
            status = "interrupted"
        else:
            status = "completed"
        if status != "failed":
            compact(location)
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    finally:
        compiled.writer.close()
        write_manifest(location, stamp(manifest, status, ended=True))
    if compiled.guard.error:
        raise compiled.guard.error
    return summarize(recipe, location, time.monotonic() - started, status)


def summarize(
    recipe: Recipe, location: ExperimentLocation, wall_time_s: float, status: str
) -> RunSummary:
    """Counts and the best trial, read back from the experiment's Parquet parts."""
    table = read_results(location)
    finals = final_rows(table)
    statuses = finals.column(col.STATUS).to_pylist() if finals.num_rows else []
    return RunSummary(
        location=location,
        status=status,
        trials=finals.num_rows,
        stopped_early=statuses.count(col.STOPPED_EARLY),
        errored=statuses.count(col.ERRORED),
        rows=table.num_rows,
        best=best_trial(table, recipe.objective),
        wall_time_s=wall_time_s,
    )
