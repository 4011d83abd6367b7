"""The function Ray Tune runs for each trial, in a worker process.

A worker rebuilds its plugins from the recipe and the entry points, never from driver state,
and caches them per process, so with ``reuse_actors`` each actor pays for it once. The data
and splits arrive through the object store (``tune.with_parameters``). In lean mode the
config is a pack, whose configs run one after another (``tunefw.running.pack_trial``).
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import socket
import tempfile
import zlib
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

import ray
from ray import tune

from tunefw import compat
from tunefw.plugin_api.context import Reporter, TrialContext
from tunefw.plugin_api.imports import extend_sys_path
from tunefw.plugin_api.resolve import TrialPlugins, resolve_for_trials
from tunefw.prepare.data import SharedData
from tunefw.prepare.pack_payload import pack_of
from tunefw.recipe.schema import Recipe
from tunefw.running.rerun import split_rerun
from tunefw.store.columns import GPU_IDS_RESULT_KEY, NODE_ID_RESULT_KEY

# A worker imports this module before its actor starts.
compat.skip_unless_imported(compat.IPYTHON_IN_TRIAL_ACTORS)


@lru_cache(maxsize=2)
def _resolve(recipe_json: str, search_drives_trials: bool) -> tuple[Recipe, TrialPlugins]:
    # Ray Train logs every checkpoint at INFO; tunefw stores results, not log lines.
    logging.getLogger("ray.train").setLevel(logging.WARNING)
    recipe = Recipe.model_validate_json(recipe_json)
    return recipe, resolve_for_trials(recipe, search_drives_trials)


def trial_seed(base: int | None, config: dict[str, Any]) -> int:
    """A seed fixed by the recipe's seed and the config, so a config replays identically."""
    digest = zlib.crc32(json.dumps(config, sort_keys=True, default=str).encode())
    return (digest ^ (base or 0)) & 0x7FFFFFFF


STATE_FILE = "state.pkl"

CHECKPOINT_INTERVAL_S = 30.0
"""Under a scheduler that does not pause trials, the least seconds between the checkpoints a
trainable asks ``ctx.checkpoint_due()`` for: a retried or resumed trial redoes at most this
much training. (Every stored result is written as it arrives, checkpoint or not.)"""


@lru_cache(maxsize=1)
def _node_id() -> str:
    return str(ray.get_runtime_context().get_node_id())


@lru_cache(maxsize=1)
def _hostname() -> str:
    return socket.gethostname()


@lru_cache(maxsize=1)
def _node_ip() -> str:
    return str(ray.util.get_node_ip_address())  # type: ignore[no-untyped-call]


@lru_cache(maxsize=1)
def _gpu_ids() -> str:
    """The GPUs Ray gave this worker: fixed for its life, as a reused actor keeps its resources."""
    return ",".join(str(i) for i in ray.get_gpu_ids())


def _where() -> dict[str, str]:
    """Where a result was computed: added to every result, stored as reserved columns."""
    return {NODE_ID_RESULT_KEY: _node_id(), GPU_IDS_RESULT_KEY: _gpu_ids()}


def _report(metrics: dict[str, Any], state: Any) -> None:
    metrics.update(_where())
    if state is None:
        tune.report(metrics)
        return
    with tempfile.TemporaryDirectory(prefix="tunefw-ckpt-") as tmp:
        with open(os.path.join(tmp, STATE_FILE), "wb") as f:
            pickle.dump(state, f)
        tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(tmp))


def _restored_state(restore_from: str | None) -> Any:
    """The state of the trial's checkpoint: Ray Tune's (a retry, a restore), else the stored
    one a rerun of an unfinished trial starts from."""
    checkpoint = tune.get_checkpoint()
    if checkpoint is None and restore_from:
        checkpoint = tune.Checkpoint(restore_from)
    if checkpoint is None:
        return None
    with checkpoint.as_directory() as path, open(os.path.join(path, STATE_FILE), "rb") as f:
        return pickle.load(f)


def make_trial(
    recipe: Recipe, import_paths: Sequence[str] = (), search_drives_trials: bool = False
) -> Callable[[dict[str, Any]], None]:
    """The Ray Tune function trainable for ``recipe``.

    ``import_paths`` are added to ``sys.path`` in the worker, so a user's ``module:function``
    next to the recipe imports there as it does on the driver. ``search_drives_trials``: the
    recipe's search strategy runs each trial itself (``DrivesTrials``), so the worker builds
    it too.
    """
    recipe_json = recipe.model_dump_json(by_alias=True)
    paths = tuple(import_paths)

    def tunefw_trial(
        config: dict[str, Any], shared: SharedData | None = None, board: Any = None
    ) -> None:
        extend_sys_path(paths)
        recipe, plugins = _resolve(recipe_json, search_drives_trials)

        def evaluate(config: dict[str, Any], reporter: Reporter, restored: Any = None) -> None:
            config = split_rerun(config).config
            ctx = TrialContext(
                config=config,
                metric=recipe.objective.metric,
                reporter=reporter,
                data=shared.data if shared else None,
                splits=shared.splits if shared else (),
                regularizers=plugins.regularizers,
                regularizer_keys=plugins.regularizer_keys,
                seed=trial_seed(recipe.search.seed, config),
                restored=restored,
                metrics=recipe.objective.reported_metrics(),
                checkpoint_interval_s=None if recipe.scheduler.pauses else CHECKPOINT_INTERVAL_S,
            )
            if plugins.driver is not None:  # trains inside it (hypergradient)
                plugins.driver.drive(ctx, plugins.trainable, plugins.space)
            else:
                plugins.trainable.run(ctx)

        pack = pack_of(config)
        if pack is None:
            evaluate(config, _report, _restored_state(split_rerun(config).restore_from))
            return
        from tunefw.running.pack_trial import PackRunner  # lean mode's, and its board's imports

        tags = {**_where(), "node_ip": _node_ip(), "hostname": _hostname()}
        runner = PackRunner(board, recipe.objective.metric, tags=tags)
        runner.run(pack, evaluate)

    return tunefw_trial
