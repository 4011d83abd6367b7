"""``tunefw run``, ``tunefw resume`` and ``tunefw validate``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from tunefw.cli.options import (
    DEFAULT_STORAGE,
    NameArg,
    SetOption,
    StorageOption,
    recipe_overrides,
)
from tunefw.cli.run_output import JsonOption, QuietOption, RunOutput, print_notes
from tunefw.compile import compile_experiment, total_trials
from tunefw.errors import RecipeError, TrialsFailedError
from tunefw.imports import extend_sys_path, recipe_import_paths
from tunefw.loggers import check_installed
from tunefw.nested import is_nested, run_nested
from tunefw.prepare import Prepared, prepare_recipe
from tunefw.ray_connection import check_address
from tunefw.recipe_file import load_recipe
from tunefw.runner import RunOptions, RunSummary, resume_experiment, run_experiment
from tunefw.stages import prepare_stages, run_stages
from tunefw.store.layout import ExperimentLocation, Storage, check_storage, find_experiment
from tunefw.store.manifest import load_manifest, recipe_of

RecipeArg = Annotated[Path, typer.Argument(help="The recipe YAML file.")]
AddressOption = Annotated[
    str | None,
    typer.Option(
        envvar="RAY_ADDRESS",
        help="Ray cluster (host:port of its head) to run on; an embedded local Ray if not given.",
    ),
]


LoadDataOption = Annotated[
    bool,
    typer.Option(
        "--load-data",
        help="Also call the data loader, split the data and run the checks that need them.",
    ),
]


def prepare_file(path: Path, overrides: list[str], load_data: bool = True) -> Prepared:
    """The recipe at ``path``, its modules importable from its directory, prepared."""
    recipe = load_recipe(path, overrides)
    extend_sys_path(recipe_import_paths(path))
    return prepare_recipe(recipe, load_data)


def validate(
    recipe: RecipeArg,
    set_: SetOption = [],  # noqa: B006 (typer reads it)
    load_data: LoadDataOption = False,
) -> None:
    """Check a recipe, its plugins, its space and every stage, running none of its code.

    Imports the modules the recipe names and calls no loader, function or model in them;
    --load-data also calls the data loader and splits the data.
    """
    prepared = prepare_file(recipe, set_, load_data)
    loaded = prepared.recipe
    location = ExperimentLocation(Storage.open(loaded.storage), loaded.name)
    stages = prepare_stages(loaded, load_data)
    check_storage_for(prepared, stages)
    compile_experiment(loaded, prepared.plugins, prepared.plan, location)
    for stage in stages:
        compile_experiment(stage.recipe, stage.plugins, stage.plan, location)
    print_notes(note for ready in (prepared, *stages) for note in ready.notes)
    unloaded = " · data not loaded (--load-data checks it)" if loaded.data and not load_data else ""
    Console().print(
        f"{recipe}: ok · {loaded.trainable.kind} trainable · {loaded.search.strategy} search "
        f"({total_trials(prepared.plan)} trials) · {loaded.validation.strategy} validation · "
        f"scheduler {loaded.scheduler.type}{unloaded}",
        highlight=False,
        soft_wrap=True,
    )


def check_storage_for(prepared: Prepared, stages: Sequence[Prepared]) -> None:
    """Every experiment the recipe writes (its stages', its outer folds') can be written."""
    recipe = prepared.recipe
    names = [recipe.name, *(stage.recipe.name for stage in stages)]
    names += [f"{recipe.name}.outer-{k}" for k in range(len(prepared.outer))]
    storage = Storage.open(recipe.storage)
    for name in names:
        check_storage(storage, name)


def run(
    recipe: RecipeArg,
    set_: SetOption = [],  # noqa: B006 (typer reads it)
    address: AddressOption = None,
    storage: Annotated[str | None, typer.Option(help="Overrides the recipe's storage.")] = None,
    name: Annotated[str | None, typer.Option(help="Overrides the recipe's name.")] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue the experiment if it already exists.")
    ] = False,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Delete an existing experiment of this name.")
    ] = False,
    quiet: QuietOption = False,
    json: JsonOption = False,
) -> None:
    """Run a recipe: Ray Tune with ASHA, every result written to Parquet."""
    output = RunOutput.from_flags(quiet, json)
    with output.session():
        _run(recipe, recipe_overrides(set_, storage, name), address, resume, overwrite, output)


def _run(
    recipe: Path,
    overrides: list[str],
    address: str | None,
    resume: bool,
    overwrite: bool,
    output: RunOutput,
) -> None:
    prepared = prepare_file(recipe, overrides)
    loaded = prepared.recipe
    check_installed(loaded.loggers)  # before anything is stored
    needs_cluster = loaded.resources.cluster_only()
    if needs_cluster and not address:
        raise RecipeError(
            f"{needs_cluster[0]}: the embedded local Ray declares no such resource, so no "
            "trial could start; run on a cluster that does, with --address"
        )
    if address:
        check_address(address)  # before anything is stored
    location = ExperimentLocation(Storage.open(loaded.storage), loaded.name)
    paths = recipe_import_paths(recipe)
    if resume and location.exists():
        last = prepare_stages(loaded)[-1] if loaded.stages else prepared  # NAME is the last's
        _resume(location, last, address, paths, output, restart_errored=False)
        return
    check_storage_for(prepared, [])
    if loaded.stages:
        runs = run_stages(
            loaded,
            lambda title, stage: _options(stage, stage.recipe.name, title, address, paths, output),
            overwrite=overwrite,
        )
        for run in runs:
            output.stage(run)
        _finish(runs[-1].summary, prepared, output)
        return
    if is_nested(prepared):
        nested = run_nested(
            prepared,
            location,
            lambda title, name: _options(prepared, name, title, address, paths, output),
            overwrite=overwrite,
        )
        output.nested(loaded.name, loaded.objective.metric, nested.outer_scores)
        _finish(nested.summary, prepared, output)
        return
    title = f"running {loaded.name}"
    options = _options(prepared, loaded.name, title, address, paths, output)
    _finish(run_experiment(prepared, location, options, overwrite=overwrite), prepared, output)


def resume_cmd(
    name: NameArg,
    storage: StorageOption = DEFAULT_STORAGE,
    address: AddressOption = None,
    restart_errored: Annotated[
        bool, typer.Option(help="Run errored trials again from their last checkpoint.")
    ] = False,
    quiet: QuietOption = False,
    json: JsonOption = False,
) -> None:
    """Continue a stopped or killed experiment, with its searcher's state."""
    output = RunOutput.from_flags(quiet, json)
    if address:
        check_address(address)
    location = find_experiment(Storage.open(storage), name)
    manifest = load_manifest(location)
    recipe = recipe_of(location, manifest)
    paths = manifest.get("import_paths") or [str(Path.cwd())]
    extend_sys_path(paths)
    with output.session():
        _resume(location, prepare_recipe(recipe), address, paths, output, restart_errored)


def _resume(
    location: ExperimentLocation,
    prepared: Prepared,
    address: str | None,
    import_paths: list[str],
    output: RunOutput,
    restart_errored: bool,
) -> None:
    title = f"resuming {location.name}"
    options = _options(prepared, location.name, title, address, import_paths, output)
    summary = resume_experiment(prepared, location, options, restart_errored=restart_errored)
    _finish(summary, prepared, output)


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


def _finish(summary: RunSummary, prepared: Prepared, output: RunOutput) -> None:
    output.finished(summary, prepared.recipe.objective.metric)
    if summary.trials and summary.errored == summary.trials:
        raise TrialsFailedError(
            f"every trial failed ({summary.trials}); the first: {summary.first_error}; "
            f"`tunefw results {summary.location.name}` shows each error"
        )
    if summary.status == "interrupted":
        Console(stderr=True).print(
            f"interrupted: the results so far are kept; `tunefw resume {summary.location.name}`"
            " continues",
            highlight=False,
        )
        raise typer.Exit(130)
