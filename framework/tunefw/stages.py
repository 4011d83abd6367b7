"""Coarse-to-fine stages: one recipe, several searches run one after another.

Stage K of recipe NAME runs as experiment ``NAME.STAGE``, the last stage as ``NAME`` itself,
whose manifest lists every stage (``manifest["stages"]``) so that ``tunefw results NAME``
shows them together. Each stage after the first starts from the previous stage's best
configs (``search.warm_start``) when its strategy takes warm-start points and the two
spaces share a parameter; a stage that swaps the model for one with other parameters
starts afresh.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tunefw.plugins import resolve
from tunefw.prepare import Prepared, prepare_recipe
from tunefw.recipe import Recipe, Stage
from tunefw.recipe_file import validate_recipe
from tunefw.runner import RunOptions, RunSummary, run_experiment
from tunefw.space import Constant
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
    """Each stage as a full recipe (without warm start), validated; errors name the stage."""
    base = recipe.model_dump(mode="json", by_alias=True, exclude={"stages"})
    recipes = []
    for i, stage in enumerate(recipe.stages):
        last = i == len(recipe.stages) - 1
        data = _merged(base, stage) | {
            "name": recipe.name if last else f"{recipe.name}.{stage.name}"
        }
        recipes.append(validate_recipe(data, f"stages[{i}] ({stage.name})"))
    return recipes


def _merged(base: dict[str, Any], stage: Stage) -> dict[str, Any]:
    data = {**base}
    for section in REPLACED:
        value = getattr(stage, section)
        if value is not None:
            data[section] = value
    if stage.search:
        search = {**base["search"], "warm_start": None}
        if "strategy" in stage.search and stage.search["strategy"] != search["strategy"]:
            search["params"] = {}
        data["search"] = search | stage.search
    return data


def _sampled(recipe: Recipe) -> set[str]:
    return {n for n, spec in resolve(recipe).space.items() if not isinstance(spec, Constant)}


def _warm_started(recipe: Recipe, previous: Recipe, top_k: int) -> Recipe:
    """``recipe`` starting from ``previous``'s best, when it can take those configs."""
    takes_points = getattr(resolve(recipe).search, "takes_warm_start", True)
    if not takes_points or not _sampled(recipe) & _sampled(previous):
        return recipe
    warm = {"experiment": previous.name, "top_k": top_k, "storage": previous.storage}
    data = recipe.model_dump(mode="json", by_alias=True)
    data["search"]["warm_start"] = warm
    return validate_recipe(data, recipe.name)


def run_stages(
    recipe: Recipe,
    options_for: Callable[[str, Prepared], RunOptions],
    *,
    overwrite: bool = False,
) -> list[StageRun]:
    """Run every stage in order; ``options_for(title, prepared)`` makes a stage's run options."""
    runs: list[StageRun] = []
    previous: Recipe | None = None
    storage = Storage.open(recipe.storage)
    for stage, stage_recipe in zip(recipe.stages, stage_recipes(recipe), strict=True):
        if previous is not None:
            stage_recipe = _warm_started(stage_recipe, previous, stage.top_k)
        warm = stage_recipe.search.warm_start
        location = ExperimentLocation(storage, stage_recipe.name)
        title = f"stage {stage.name}: {stage_recipe.search.strategy} search, {location.name}"
        prepared = prepare_recipe(stage_recipe)
        summary = run_experiment(
            prepared, location, options_for(title, prepared), overwrite=overwrite
        )
        runs.append(StageRun(stage.name, location.name, summary, warm.experiment if warm else None))
        previous = stage_recipe
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
