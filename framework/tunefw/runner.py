"""Run a compiled experiment on embedded or remote Ray, and record it in the store."""

from __future__ import annotations

import logging
import os
import secrets
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import ray
from ray import tune
from ray._private import ray_constants

from tunefw.compile import compile_experiment
from tunefw.errors import MetricError
from tunefw.plugins import ResolvedPlugins
from tunefw.protocols import SearchPlan
from tunefw.recipe import Recipe
from tunefw.store import columns as col
from tunefw.store.layout import RunLocation, prepare
from tunefw.store.manifest import write_manifest
from tunefw.store.reader import BestTrial, best_trial, final_rows, read_results

#: Set for the driver: Parquet is the record, so Ray Tune's own loggers and progress
#: tables stay off (a user may still set these variables to turn them back on).
DRIVER_ENV = {
    "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS": "1",
    "RAY_AIR_NEW_OUTPUT": "0",
}


def embedded_env() -> dict[str, str]:
    """Environment for an embedded, single-machine Ray that stays on 127.0.0.1.

    Ray turns token authentication on for a new local instance; given a token made for this
    process alone, it neither reads nor writes ``~/.ray/auth_token``.
    """
    env = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
    if "RAY_AUTH_MODE" not in os.environ and "RAY_AUTH_TOKEN" not in os.environ:
        env["RAY_AUTH_TOKEN"] = secrets.token_hex(32)
    return env


def start_embedded_ray(**init_kwargs: Any) -> None:
    """Start a single-node Ray bound to 127.0.0.1, without a dashboard.

    ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` makes Ray use the loopback address; its child
    processes read the variable, while this process read it when ``ray`` was imported, so the
    constant is set here too.
    """
    os.environ.update(embedded_env())
    ray_constants.ENABLE_RAY_CLUSTER = False
    auth_log = logging.getLogger("ray._private.authentication.authentication_token_setup")
    level = auth_log.level
    auth_log.setLevel(logging.ERROR)  # "token auth enabled" is the intended state, not news
    try:
        ray.init(include_dashboard=False, logging_level=logging.WARNING, **init_kwargs)
    finally:
        auth_log.setLevel(level)


@contextmanager
def ray_session(address: str | None) -> Iterator[None]:
    """Connect to ``address``, or start an embedded Ray; reuse one already initialised."""
    if ray.is_initialized():
        yield
        return
    if address:
        ray.init(address=address, logging_level=logging.WARNING)
    else:
        start_embedded_ray()
    try:
        yield
    finally:
        ray.shutdown()


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
    location: RunLocation
    status: str
    trials: int
    stopped_early: int
    errored: int
    rows: int
    best: BestTrial | None
    wall_time_s: float


def run_experiment(
    recipe: Recipe,
    plugins: ResolvedPlugins,
    plan: SearchPlan,
    location: RunLocation,
    *,
    address: str | None = None,
    callbacks: Sequence[tune.Callback] = (),
    import_paths: Sequence[str] = (),
    stopped_early: set[str] | None = None,
) -> RunSummary:
    """Run ``recipe`` to completion; every reported result lands in ``location``."""
    prepare(location)
    started = time.time()
    write_manifest(location, recipe, plugins, started=started, status="running")
    compiled = compile_experiment(
        recipe,
        plugins,
        plan,
        location,
        callbacks=callbacks,
        import_paths=import_paths,
        stopped_early=stopped_early,
    )
    os.environ.update({k: v for k, v in DRIVER_ENV.items() if k not in os.environ})
    status = "failed"
    try:
        with ray_session(address), quiet_ray_tune():
            tuner = tune.Tuner(
                compiled.trainable,
                param_space=compiled.param_space,
                tune_config=compiled.tune_config,
                run_config=compiled.run_config,
            )
            tuner.fit()
        compiled.writer.close()
        if compiled.guard.message:
            status = "failed"
        elif compiled.writer.unfinished:  # Ray Tune ended the run early on SIGINT
            status = "interrupted"
        else:
            status = "completed"
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    finally:
        compiled.writer.close()
        write_manifest(location, recipe, plugins, started=started, status=status, ended=time.time())
    if compiled.guard.message:
        raise MetricError(compiled.guard.message)
    return summarize(recipe, location, started, status)


def summarize(recipe: Recipe, location: RunLocation, started: float, status: str) -> RunSummary:
    """Counts and the best trial, read back from the run's Parquet parts."""
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
        best=best_trial(table, recipe.objective.metric, recipe.objective.mode),
        wall_time_s=time.time() - started,
    )
