"""The function Ray Tune runs for each trial, in a worker process.

A worker rebuilds what it needs from the recipe and the entry points, never from driver
state. The rebuild (plugins, data, splits) is cached per process, so with ``reuse_actors``
each actor pays for it once, not once per trial.
"""

from __future__ import annotations

import json
import os
import pickle
import tempfile
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import ray
from ray import tune

from tunefw.context import TrialContext
from tunefw.data import load_data
from tunefw.imports import extend_sys_path
from tunefw.plugins import ResolvedPlugins, resolve
from tunefw.protocols import Dataset, Split
from tunefw.recipe import Recipe
from tunefw.store.columns import NODE_ID_RESULT_KEY


@dataclass(frozen=True)
class _Prepared:
    recipe: Recipe
    plugins: ResolvedPlugins
    data: Dataset | None
    splits: tuple[Split, ...]


@lru_cache(maxsize=2)
def _prepare(recipe_json: str) -> _Prepared:
    recipe = Recipe.model_validate_json(recipe_json)
    plugins = resolve(recipe)
    data = load_data(recipe.data) if recipe.data is not None else None
    splits = tuple(plugins.validation.splits(data)) if data is not None else ()
    return _Prepared(recipe, plugins, data, splits)


def trial_seed(base: int | None, config: dict[str, Any]) -> int:
    """A seed fixed by the recipe's seed and the config, so a config replays identically."""
    digest = zlib.crc32(json.dumps(config, sort_keys=True, default=str).encode())
    return (digest ^ (base or 0)) & 0x7FFFFFFF


STATE_FILE = "state.pkl"


@lru_cache(maxsize=1)
def _node_id() -> str:
    return str(ray.get_runtime_context().get_node_id())


def _report(metrics: dict[str, Any], state: Any) -> None:
    metrics[NODE_ID_RESULT_KEY] = _node_id()
    if state is None:
        tune.report(metrics)
        return
    with tempfile.TemporaryDirectory(prefix="tunefw-ckpt-") as tmp:
        with open(os.path.join(tmp, STATE_FILE), "wb") as f:
            pickle.dump(state, f)
        tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(tmp))


def _restored_state() -> Any:
    checkpoint = tune.get_checkpoint()
    if checkpoint is None:
        return None
    with checkpoint.as_directory() as path, open(os.path.join(path, STATE_FILE), "rb") as f:
        return pickle.load(f)


def make_trial(
    recipe: Recipe, import_paths: Sequence[str] = ()
) -> Callable[[dict[str, Any]], None]:
    """The Ray Tune function trainable for ``recipe``.

    ``import_paths`` are added to ``sys.path`` in the worker, so a user's ``module:function``
    next to the recipe imports there as it does on the driver.
    """
    recipe_json = recipe.model_dump_json(by_alias=True)
    paths = tuple(import_paths)

    def tunefw_trial(config: dict[str, Any]) -> None:
        extend_sys_path(paths)
        prepared = _prepare(recipe_json)
        ctx = TrialContext(
            config=config,
            metric=prepared.recipe.objective.metric,
            reporter=_report,
            data=prepared.data,
            splits=prepared.splits,
            regularizers=prepared.plugins.regularizers,
            regularizer_keys=prepared.plugins.regularizer_keys,
            seed=trial_seed(prepared.recipe.search.seed, config),
            restored=_restored_state(),
        )
        prepared.plugins.trainable.run(ctx)

    return tunefw_trial
