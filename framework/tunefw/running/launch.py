"""Running a recipe, for ``tunefw.run()`` and ``tunefw run`` alike: loading it from a file, a
mapping or a ``Recipe``, checking it, and deciding between stages, nested CV and one run."""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

from tunefw.errors import RecipeError, TrialsFailedError
from tunefw.plugin_api.imports import extend_sys_path, recipe_import_paths
from tunefw.prepare.prepared import Prepared, prepare_recipe
from tunefw.recipe.loading import apply_overrides, load_recipe, validate_recipe
from tunefw.recipe.resume_changes import first_change
from tunefw.recipe.schema import Recipe
from tunefw.running.compile import compile_experiment
from tunefw.running.loggers import check_installed
from tunefw.running.manifests import recipe_of
from tunefw.running.nested import is_nested, run_nested
from tunefw.running.progress.output import RunOutput
from tunefw.running.ray_connection import check_address
from tunefw.running.runner import RunOptions, RunSummary, resume_experiment, run_experiment
from tunefw.running.stages import last_stage, prepare_stages, run_stages
from tunefw.store.layout import ExperimentLocation, Storage, check_storage
from tunefw.store.manifest import load_manifest

RecipeSource: TypeAlias = "str | os.PathLike[str] | Mapping[str, Any] | Recipe"
"""A recipe file's path, the mapping a recipe file holds, or a ``Recipe`` built in code."""


@dataclass(frozen=True)
class Checked:
    """A recipe prepared, with its stages: what ``validate`` found."""

    prepared: Prepared
    stages: list[Prepared]


def load(source: RecipeSource, overrides: Sequence[str] = ()) -> tuple[Recipe, list[str]]:
    """The recipe, its overrides applied and validated, and where its own modules are
    imported from (a file's directory then the working one; the working one otherwise). A
    mapping given is left as it was."""
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        return load_recipe(path, overrides), recipe_import_paths(path)
    here = [str(Path.cwd())]
    if isinstance(source, Recipe):
        if not overrides:
            return source, here
        data = source.model_dump(mode="json", by_alias=True, exclude_unset=True)
    elif isinstance(source, Mapping):
        data = copy.deepcopy(dict(source))  # the overrides are set in place
    else:
        raise RecipeError(
            f"recipe: a path, a mapping or a tunefw.Recipe, not {type(source).__name__}"
        )
    return validate_recipe(apply_overrides(data, overrides), "recipe"), here


def prepare_source(
    source: RecipeSource, overrides: Sequence[str] = (), load_data: bool = True
) -> tuple[Prepared, list[str]]:
    """The recipe prepared, its modules importable."""
    recipe, paths = load(source, overrides)
    extend_sys_path(paths)
    return prepare_recipe(recipe, load_data), paths


def check(source: RecipeSource, overrides: Sequence[str] = (), load_data: bool = False) -> Checked:
    """Every check a run makes before it stores anything, running none of the recipe's code
    (``load_data`` also calls its data loader and splits the data)."""
    prepared, _ = prepare_source(source, overrides, load_data)
    recipe = prepared.recipe
    location = ExperimentLocation(Storage.open(recipe.storage), recipe.name)
    stages = prepare_stages(recipe, load_data)
    check_storage_for(prepared, stages)
    for ready in (prepared, *stages):
        compile_experiment(ready.recipe, ready.plugins, ready.plan, location)
    return Checked(prepared, stages)


def check_storage_for(prepared: Prepared, stages: Sequence[Prepared]) -> None:
    """Every experiment the recipe writes (its stages', its outer folds') can be written."""
    recipe = prepared.recipe
    names = [recipe.name, *(stage.recipe.name for stage in stages)]
    names += [f"{recipe.name}.outer-{k}" for k in range(len(prepared.outer))]
    storage = Storage.open(recipe.storage)
    for name in names:
        check_storage(storage, name)


def launch(
    source: RecipeSource,
    overrides: Sequence[str],
    output: RunOutput,
    *,
    address: str | None = None,
    resume: bool = False,
    overwrite: bool = False,
) -> RunSummary:
    """Run a recipe: its stages in order, its nested CV, or its one experiment; with
    ``resume``, continue the experiment if it exists."""
    if resume and overwrite:
        raise RecipeError(
            "--resume and --overwrite exclude each other: one continues the stored "
            "experiment, the other deletes it; give one"
        )
    prepared, paths = prepare_source(source, overrides)
    recipe = prepared.recipe
    check_installed(recipe.loggers)  # before anything is stored
    needs_cluster = recipe.resources.cluster_only()
    if needs_cluster and not address:
        raise RecipeError(
            f"{needs_cluster[0]}: the embedded local Ray declares no such resource, so no "
            "trial could start; run on a cluster that does, with --address"
        )
    if address:
        check_address(address)  # before anything is stored
    location = ExperimentLocation(Storage.open(recipe.storage), recipe.name)
    if resume and location.exists():
        last = last_stage(recipe) if recipe.stages else prepared  # NAME is the last's
        _check_same_experiment(location, last.recipe)
        return _resume(location, last, address, paths, output, restart_errored=False)
    check_storage_for(prepared, [])
    if recipe.stages:
        runs = run_stages(
            recipe,
            lambda title, stage: _options(stage, stage.recipe.name, title, address, paths, output),
            overwrite=overwrite,
        )
        for run in runs:
            output.stage(run)
        return _finish(runs[-1].summary, prepared, output)
    if is_nested(prepared):
        nested = run_nested(
            prepared,
            location,
            lambda title, name: _options(prepared, name, title, address, paths, output),
            overwrite=overwrite,
        )
        output.nested(recipe.name, recipe.objective.metric, nested.outer_scores)
        return _finish(nested.summary, prepared, output)
    options = _options(prepared, recipe.name, f"running {recipe.name}", address, paths, output)
    return _finish(
        run_experiment(prepared, location, options, overwrite=overwrite), prepared, output
    )


def resume_stored(
    location: ExperimentLocation,
    output: RunOutput,
    *,
    address: str | None = None,
    restart_errored: bool = False,
) -> RunSummary:
    """Continue a stored experiment with the recipe it ran, from its searcher's state."""
    if address:
        check_address(address)
    manifest = load_manifest(location)
    recipe = recipe_of(location, manifest)
    paths = manifest.get("import_paths") or [str(Path.cwd())]
    extend_sys_path(paths)
    return _resume(location, prepare_recipe(recipe), address, paths, output, restart_errored)


def _check_same_experiment(location: ExperimentLocation, recipe: Recipe) -> None:
    """Refuse to continue a stored experiment under a recipe that would make its trials mean
    something else (``recipe.resume_changes``), naming the first field that differs."""
    change = first_change(recipe_of(location, load_manifest(location)), recipe)
    if change is not None:
        field, stored, given = change
        raise RecipeError(
            f"{field}: experiment {location.name} ran with {stored}, this recipe says {given}; "
            "--resume continues it only with its own recipe, so give this one another --name, "
            "or replace the stored one with --overwrite"
        )


def _resume(
    location: ExperimentLocation,
    prepared: Prepared,
    address: str | None,
    import_paths: list[str],
    output: RunOutput,
    restart_errored: bool,
) -> RunSummary:
    title = f"resuming {location.name}"
    options = _options(prepared, location.name, title, address, import_paths, output)
    summary = resume_experiment(prepared, location, options, restart_errored=restart_errored)
    return _finish(summary, prepared, output)


def _options(
    prepared: Prepared,
    experiment: str,
    title: str,
    address: str | None,
    import_paths: list[str],
    output: RunOutput,
) -> RunOptions:
    """Run options whose callbacks show the run, reading the scheduler's early stops."""
    stopped_early: set[str] = set()
    callbacks = output.callbacks(prepared, experiment, title, stopped_early)
    return RunOptions(address, callbacks, import_paths, stopped_early)


def _finish(summary: RunSummary, prepared: Prepared, output: RunOutput) -> RunSummary:
    output.finished(summary, prepared.recipe.objective.metric)
    if summary.trials and summary.errored == summary.trials:
        raise TrialsFailedError(
            f"every trial failed ({summary.trials}); the first: {summary.first_error}; "
            f"`tunefw results {summary.location.name}` shows each error"
        )
    return summary
