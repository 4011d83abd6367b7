"""Run a compiled experiment on embedded or remote Ray, and record it in the store."""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from ray import tune

from tunefw import compat
from tunefw.errors import StoreError, last_line_of
from tunefw.plugin_api.protocols import SearchPlan
from tunefw.prepare.budget import BudgetMeter
from tunefw.prepare.capacity import check_capacity, started_workers
from tunefw.prepare.prepared import Prepared
from tunefw.recipe.schema import Recipe
from tunefw.running.compile import CompiledExperiment, compile_experiment, total_trials
from tunefw.running.interrupts import noticing_interrupts
from tunefw.running.manifests import new_manifest, recipe_record
from tunefw.running.pending_trials import limit_pending_trials
from tunefw.running.ray_connection import ray_session
from tunefw.running.replay import replay_plan
from tunefw.running.shared_storage import check_shared_storage
from tunefw.running.stopping.judges import Verdict
from tunefw.running.stopping.monitor import StudyMonitor
from tunefw.store import columns as col
from tunefw.store.compaction import compact
from tunefw.store.history import StoredTrial, read_history
from tunefw.store.layout import ExperimentLocation, prepare, reason, remove
from tunefw.store.manifest import Manifest, load_manifest, stamp, write_manifest
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
    """Ray Tune logs each trial's traceback; tunefw stores it and reports a count instead.
    Nor does it import Ray's logger integrations just to count tunefw's callbacks."""
    compat.skip_unless_imported(compat.INTEGRATIONS_IN_THE_DRIVER)
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
    planned: int = 0
    running: int = 0
    first_error: str | None = None
    """The last line of the first errored trial's traceback."""
    stopped_by: Verdict | None = None
    """The stop rule that ended the study, if one did."""

    @property
    def problem(self) -> str:
        """What an incomplete run lacks, in words."""
        return (
            f"{self.trials} of {self.planned} planned trials stored, {self.running} never "
            "finished; "
            f"`tunefw resume {self.location.name}` runs what is missing"
        )


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


def study_monitor(prepared: Prepared, options: RunOptions) -> StudyMonitor | None:
    """A monitor of the recipe's stop rules, or None without any."""
    recipe = prepared.recipe
    if recipe.stop is None:
        return None
    return StudyMonitor(
        recipe.stop,
        recipe.objective,
        prepared.plugins.space,
        recipe.search.seed,
        options.stopped_early,
    )


def _compile(
    prepared: Prepared,
    location: ExperimentLocation,
    options: RunOptions,
    plan: SearchPlan | None = None,
    replayed: Sequence[StoredTrial] = (),
    monitor: StudyMonitor | None = None,
) -> CompiledExperiment:
    return compile_experiment(
        prepared.recipe,
        prepared.plugins,
        plan or prepared.plan,
        location,
        callbacks=options.callbacks,
        import_paths=options.import_paths,
        stopped_early=options.stopped_early,
        replayed=replayed,
        monitor=monitor,
    )


def run_experiment(
    prepared: Prepared,
    location: ExperimentLocation,
    options: RunOptions | None = None,
    *,
    overwrite: bool = False,
) -> RunSummary:
    """Start a new experiment at ``location``; every reported result lands there.

    An experiment of the same name is refused unless ``overwrite``; then it is deleted only
    once Ray is up and every check has passed, so a run that cannot start keeps it.
    """
    options = options or RunOptions()
    existed = location.exists()
    if existed and not overwrite:
        raise StoreError(
            f"experiment {location.name!r} already exists in {location.storage.display}; "
            f"`tunefw resume {location.name}` continues it, --overwrite replaces it"
        )
    compiled = _compile(prepared, location, options, monitor=study_monitor(prepared, options))

    def start() -> tuple[Manifest, tune.Tuner | None]:
        if existed:
            remove(location)
        manifest = new_manifest(location, prepared.recipe, prepared.plugins)
        manifest["import_paths"] = list(options.import_paths)
        prepare(location, manifest)
        return manifest, compiled.tuner(prepared.shared)

    return _execute(prepared, location, compiled, start, options.address)


def resume_experiment(
    prepared: Prepared,
    location: ExperimentLocation,
    options: RunOptions | None = None,
    *,
    restart_errored: bool = False,
) -> RunSummary:
    """Continue a stopped or killed experiment from what its store holds.

    The store, not Ray Tune's snapshots, says what is done (``store.history``): Ray saves its
    trials and its searcher in separate writes, copied to storage in the background, so a
    driver killed at the wrong moment leaves snapshots that disagree with each other and with
    the rows. The searcher is rebuilt from the recipe and taught the stored trials, unfinished
    trials run again under their ids from their last checkpoint, and the rest of the planned
    trials follow; ASHA's rungs start from the stored results.
    """
    options = options or RunOptions()
    manifest = load_manifest(location)
    history = read_history(location, sorted(prepared.plugins.space))
    monitor = study_monitor(prepared, options)
    if monitor is not None:
        monitor.replay(history.trials)
    stopped = monitor is not None and monitor.verdict is not None
    plan = replay_plan(prepared, history, restart_errored, new_trials=not stopped)
    if plan.num_samples == 0 and manifest.get("status") == "completed":
        planned = total_trials(prepared.plan)  # nothing to do, so nothing is written
        return summarize(prepared.recipe, location, 0.0, "completed", planned, monitor)
    compiled = _compile(prepared, location, options, plan, history.trials, monitor)

    def start() -> tuple[Manifest, tune.Tuner | None]:
        # a resume may run more trials, or under another budget (``recipe.resume_changes``):
        # what it ran under is what a later ``tunefw resume`` continues
        resumed = stamp(manifest, "running", resumed=True) | {
            "recipe": recipe_record(prepared.recipe)
        }
        write_manifest(location, resumed)
        if plan.num_samples == 0:
            return resumed, None  # every planned trial is stored: nothing left to run
        return resumed, compiled.tuner(prepared.shared)

    return _execute(prepared, location, compiled, start, options.address)


def _execute(
    prepared: Prepared,
    location: ExperimentLocation,
    compiled: CompiledExperiment,
    start: Callable[[], tuple[Manifest, tune.Tuner | None]],
    address: str | None,
) -> RunSummary:
    """Run once Ray is up and the cluster can hold a trial; ``start`` writes the store's
    first bytes, so a run refused before it changes nothing on disk."""
    started = time.monotonic()
    os.environ.update({k: v for k, v in DRIVER_ENV.items() if k not in os.environ})
    with ray_session(address), quiet_ray_tune():
        check_capacity(
            prepared.recipe.resources,
            embedded=address is None,
            workers=started_workers(prepared.plugins.trainable),
        )
        check_shared_storage(location)
        manifest, tuner = start()
        status = "failed"
        try:
            interrupted = False
            if tuner is not None:
                with (
                    limit_pending_trials(compiled.resources.required_resources),
                    noticing_interrupts() as ray_interrupted,
                ):
                    try:
                        tuner.fit()
                    except OSError as exc:  # Ray Tune reading its own state back from storage
                        compiled.guard.abort(
                            StoreError(f"storage: cannot read {location.shown}: {reason(exc)}")
                        )
                    interrupted = ray_interrupted()
            compiled.writer.close()
            status = _status(compiled, interrupted)
            if status != "failed":
                compact(location)
            if status == "completed":
                status = _completeness(prepared, location, compiled)
        except KeyboardInterrupt:
            status = "interrupted"
            raise
        finally:
            compiled.release()
            compiled.writer.close()
            ended = stamp(manifest, status, ended=True)
            if compiled.monitor is not None and compiled.monitor.verdict is not None:
                ended["stopped_by"] = dataclasses.asdict(compiled.monitor.verdict)
            try:
                write_manifest(location, ended)
            except StoreError:
                if not compiled.writer.refused:
                    raise  # else the refused write, raised below, is the cause to report
    if compiled.guard.error:
        raise compiled.guard.error
    planned = total_trials(prepared.plan)
    elapsed = time.monotonic() - started
    summary = summarize(prepared.recipe, location, elapsed, status, planned, compiled.monitor)
    if status == "incomplete":
        raise StoreError(f"{location.name}: incomplete: {summary.problem}")
    return summary


def _status(compiled: CompiledExperiment, interrupted: bool) -> str:
    if compiled.guard.error:
        return "failed"
    if interrupted or compiled.writer.unfinished:  # Ray Tune ended the run early on SIGINT
        return "interrupted"
    return "completed"


def _completeness(
    prepared: Prepared, location: ExperimentLocation, compiled: CompiledExperiment
) -> str:
    """``completed`` when the store holds every planned trial, each finished; else
    ``incomplete``. A spent budget or a fired stop rule plans fewer, and is complete."""
    callbacks = compiled.run_config.callbacks or []
    if any(isinstance(cb, BudgetMeter) and cb.spent() for cb in callbacks):
        return "completed"
    planned = None if compiled.monitor and compiled.monitor.verdict else total_trials(prepared.plan)
    return "completed" if store_is_whole(location, planned) else "incomplete"


def store_is_whole(location: ExperimentLocation, planned: int | None) -> bool:
    """Whether the store holds exactly ``planned`` distinct trials (any number for None) and
    none still running."""
    finals = final_rows(read_results(location, [col.TRIAL_ID, col.ITERATION, col.STATUS]))
    counted = planned is None or finals.num_rows == planned
    return counted and col.RUNNING not in finals.column(col.STATUS).to_pylist()


def summarize(
    recipe: Recipe,
    location: ExperimentLocation,
    wall_time_s: float,
    status: str,
    planned: int = 0,
    monitor: StudyMonitor | None = None,
) -> RunSummary:
    """Counts, the first error and the best trial, read back from the experiment's parts;
    the rule that stopped the study, from its ``monitor``."""
    table = read_results(location)
    finals = final_rows(table)
    statuses = finals.column(col.STATUS).to_pylist() if finals.num_rows else []
    errors = [e for e in (finals.column(col.ERROR).to_pylist() if finals.num_rows else []) if e]
    return RunSummary(
        location=location,
        status=status,
        trials=finals.num_rows,
        stopped_early=statuses.count(col.STOPPED_EARLY),
        errored=statuses.count(col.ERRORED),
        rows=table.num_rows,
        best=best_trial(table, recipe.objective),
        wall_time_s=wall_time_s,
        planned=planned,
        running=statuses.count(col.RUNNING),
        first_error=last_line_of(errors[0]) if errors else None,
        stopped_by=None if monitor is None else monitor.verdict,
    )
