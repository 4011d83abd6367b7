"""Coarse-to-fine stages: one recipe, several searches run one after another.

Stage K of recipe NAME runs as experiment ``NAME.STAGE``, the last stage as ``NAME`` itself,
whose manifest lists every stage (``manifest["stages"]``) so that ``tunefw results NAME``
shows them together. Each stage after the first starts from the previous stage's best
configs (``search.warm_start``) when its strategy takes warm-start points and the two
spaces share a parameter; a stage that swaps the model for one with other parameters
starts afresh.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from tunefw.errors import TunefwError
from tunefw.plugin_api.capabilities import TakesNoWarmStart
from tunefw.plugin_api.resolve import resolve
from tunefw.prepare.data import SharedData
from tunefw.prepare.prepared import Prepared, prepare_with, shared_data
from tunefw.recipe.loading import validate_recipe
from tunefw.recipe.schema import Recipe, Stage, WarmStart
from tunefw.recipe.space import Constant
from tunefw.running.experiment_names import refuse_taken
from tunefw.running.runner import RunOptions, RunSummary, run_experiment
from tunefw.store.layout import ExperimentLocation, Storage
from tunefw.store.manifest import load_manifest, write_manifest

REPLACED = ("trainable", "data", "validation", "regularization", "scheduler", "resources")


@dataclass(frozen=True)
class StageRun:
    stage: str
    experiment: str
    summary: RunSummary
    warm_started_from: str | None


def stage_recipes(recipe: Recipe) -> list[Recipe]:
    """Each stage as a full recipe (without warm start), validated; errors name the stage.

    Fields the recipe leaves out stay left out, so a stage's defaults are still defaults (a
    ``max_t`` left out is fitted to the stage's folds).
    """
    base = recipe.model_dump(mode="json", by_alias=True, exclude={"stages"}, exclude_unset=True)
    recipes = []
    for i, stage in enumerate(recipe.stages):
        last = i == len(recipe.stages) - 1
        data = _merged(base, stage, recipe.search.strategy) | {
            "name": recipe.name if last else f"{recipe.name}.{stage.name}"
        }
        recipes.append(validate_recipe(data, f"stages[{i}] ({stage.name})"))
    return recipes


def _merged(base: dict[str, Any], stage: Stage, strategy: str) -> dict[str, Any]:
    data = {**base}
    for section in REPLACED:
        value = getattr(stage, section)
        if value is not None:
            data[section] = value
    if stage.search:
        search = {**base["search"], "warm_start": None}
        if stage.search.get("strategy", strategy) != strategy:
            search["params"] = {}
        data["search"] = search | stage.search
    return data


def prepare_stages(recipe: Recipe, load_data: bool = True) -> list[Prepared]:
    """Every stage prepared and checked, so that a bad stage is refused before the first runs;
    stages with the same data and validation sections share one load of the data. Errors and
    notes name the stage."""
    loaded: dict[str, SharedData | None] = {}
    prepared = []
    for i, (stage, stage_recipe) in enumerate(
        zip(recipe.stages, stage_recipes(recipe), strict=True)
    ):
        where = f"stages[{i}] ({stage.name})"
        try:
            plugins = resolve(stage_recipe)
            key = _data_key(stage_recipe)
            if key not in loaded:
                loaded[key] = shared_data(stage_recipe, plugins, load_data)
            ready = prepare_with(stage_recipe, plugins, loaded[key])
        except TunefwError as exc:
            lines = str(exc).splitlines() or [""]
            raise type(exc)("\n".join(f"{where}: {line}" for line in lines)) from None
        prepared.append(replace(ready, notes=tuple(f"{where}: {note}" for note in ready.notes)))
    return prepared


def last_stage(recipe: Recipe) -> Prepared:
    """The last stage, prepared as ``run_stages`` ran it (warm-started from the stage before
    it): what ``run --resume`` continues, under the recipe's own name."""
    stages = prepare_stages(recipe)
    if len(stages) == 1:
        return stages[0]
    return _warm_started(stages[-1], stages[-2], recipe.stages[-1].top_k)


def _data_key(recipe: Recipe) -> str:
    """What a stage's data and splits depend on: its data and validation sections."""
    data = None if recipe.data is None else recipe.data.model_dump(mode="json")
    return json.dumps([data, recipe.validation.model_dump(mode="json")], sort_keys=True)


def _sampled(prepared: Prepared) -> set[str]:
    space = prepared.plugins.space
    return {n for n, spec in space.items() if not isinstance(spec, Constant)}


def _warm_started(prepared: Prepared, previous: Prepared, top_k: int) -> Prepared:
    """``prepared`` starting from ``previous``'s best, when it can take those configs."""
    takes_points = not isinstance(prepared.plugins.search, TakesNoWarmStart)
    if not takes_points or not _sampled(prepared) & _sampled(previous):
        return prepared
    last = previous.recipe
    return prepared.warm_started(WarmStart(experiment=last.name, top_k=top_k, storage=last.storage))


def run_stages(
    recipe: Recipe,
    options_for: Callable[[str, Prepared], RunOptions],
    *,
    overwrite: bool = False,
) -> list[StageRun]:
    """Run every stage in order; ``options_for(title, prepared)`` makes a stage's run options.

    Before the first stage starts, every stage is prepared and checked and every stage's
    experiment name is refused if taken (unless ``overwrite``); each stage after the first
    then gets its warm start, on the plugins and data prepared up front.
    """
    storage = Storage.open(recipe.storage)
    stages = prepare_stages(recipe)
    locations = [ExperimentLocation(storage, ready.recipe.name) for ready in stages]
    refuse_taken(locations, overwrite)
    runs: list[StageRun] = []
    previous: Prepared | None = None
    for stage, ready, location in zip(recipe.stages, stages, locations, strict=True):
        if previous is not None:
            ready = _warm_started(ready, previous, stage.top_k)
        warm = ready.recipe.search.warm_start
        title = f"stage {stage.name}: {ready.recipe.search.strategy} search, {location.name}"
        summary = run_experiment(ready, location, options_for(title, ready), overwrite=overwrite)
        runs.append(StageRun(stage.name, location.name, summary, warm.experiment if warm else None))
        previous = ready
    final = ExperimentLocation(storage, recipe.name)
    manifest = load_manifest(final)
    manifest["stages"] = [
        {
            "stage": run.stage,
            "experiment": run.experiment,
            "warm_started_from": run.warm_started_from,
            "trials": run.summary.trials,
            "best": None if run.summary.best is None else run.summary.best.score,
        }
        for run in runs
    ]
    write_manifest(final, manifest)
    return runs
