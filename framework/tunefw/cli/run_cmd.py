"""``tunefw run``, ``tunefw resume`` and ``tunefw validate``."""

from __future__ import annotations

import statistics
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
from tunefw.compile import compile_experiment, total_trials
from tunefw.errors import RecipeError
from tunefw.imports import extend_sys_path, recipe_import_paths
from tunefw.nested import is_nested, run_nested
from tunefw.prepare import Prepared, prepare_recipe
from tunefw.progress import ProgressLine
from tunefw.ray_connection import check_address
from tunefw.recipe_file import load_recipe, validate_recipe
from tunefw.runner import RunOptions, RunSummary, resume_experiment, run_experiment
from tunefw.stages import StageRun, run_stages, stage_recipes
from tunefw.store.layout import ExperimentLocation, Storage, find_experiment
from tunefw.store.manifest import load_manifest

RecipeArg = Annotated[Path, typer.Argument(help="The recipe YAML file.")]
AddressOption = Annotated[
    str | None,
    typer.Option(
        envvar="RAY_ADDRESS",
        help="Ray cluster (host:port of its head) to run on; an embedded local Ray if not given.",
    ),
]


def prepare_file(path: Path, overrides: list[str]) -> Prepared:
    recipe = load_recipe(path, overrides)
    extend_sys_path(recipe_import_paths(path))
    return prepare_recipe(recipe)


def validate(recipe: RecipeArg, set_: SetOption = []) -> None:  # noqa: B006 (typer reads it)
    """Check a recipe, its plugins and its search space without running anything."""
    prepared = prepare_file(recipe, set_)
    loaded = prepared.recipe
    location = ExperimentLocation(Storage.open(loaded.storage), loaded.name)
    compile_experiment(loaded, prepared.plugins, prepared.plan, location)
    for stage in stage_recipes(loaded):
        ready = prepare_recipe(stage)
        compile_experiment(stage, ready.plugins, ready.plan, location)
    Console().print(
        f"{recipe}: ok · {loaded.trainable.kind} trainable · {loaded.search.strategy} search "
        f"({total_trials(prepared.plan)} trials) · {loaded.validation.strategy} validation · "
        f"scheduler {loaded.scheduler.type}",
        highlight=False,
        soft_wrap=True,
    )


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
) -> None:
    """Run a recipe: Ray Tune with ASHA, every result written to Parquet."""
    overrides = recipe_overrides(set_, storage, name)
    prepared = prepare_file(recipe, overrides)
    loaded = prepared.recipe
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
        _resume(location, prepared, address, paths, restart_errored=False)
        return
    if loaded.stages:
        runs = run_stages(
            loaded,
            lambda title, stage: _options(stage, address, paths, title),
            overwrite=overwrite,
        )
        for run in runs:
            Console().print(stage_line(run), highlight=False, soft_wrap=True)
        _finish(runs[-1].summary, prepared)
        return
    if is_nested(prepared):
        nested = run_nested(
            prepared,
            location,
            lambda title: _options(prepared, address, paths, title),
            overwrite=overwrite,
        )
        Console().print(
            nested_line(loaded.objective.metric, nested.outer_scores),
            highlight=False,
            soft_wrap=True,
        )
        _finish(nested.summary, prepared)
        return
    options = _options(prepared, address, paths, f"running {loaded.name}")
    _finish(run_experiment(prepared, location, options, overwrite=overwrite), prepared)


def stage_line(run: StageRun) -> str:
    best = run.summary.best
    score = "no score" if best is None else f"best {best.metric} {best.score:.4f}"
    warm = f", warm-started from {run.warm_started_from}" if run.warm_started_from else ""
    return f"stage {run.stage} ({run.experiment}): {run.summary.trials} trials, {score}{warm}"


def nested_line(metric: str, scores: list[float]) -> str:
    mean, std = statistics.fmean(scores), statistics.pstdev(scores)
    return (
        f"nested CV estimate of the tuning procedure: {metric} {mean:.4f} ± {std:.4f} "
        f"over {len(scores)} outer folds"
    )


def resume_cmd(
    name: NameArg,
    storage: StorageOption = DEFAULT_STORAGE,
    address: AddressOption = None,
    restart_errored: Annotated[
        bool, typer.Option(help="Run errored trials again from their last checkpoint.")
    ] = False,
) -> None:
    """Continue a stopped or killed experiment, with its searcher's state."""
    if address:
        check_address(address)
    location = find_experiment(Storage.open(storage), name)
    manifest = load_manifest(location)
    recipe = validate_recipe(manifest["recipe"], f"{name}/manifest.json")
    paths = manifest.get("import_paths") or [str(Path.cwd())]
    extend_sys_path(paths)
    _resume(location, prepare_recipe(recipe), address, paths, restart_errored)


def _resume(
    location: ExperimentLocation,
    prepared: Prepared,
    address: str | None,
    import_paths: list[str],
    restart_errored: bool,
) -> None:
    options = _options(prepared, address, import_paths, f"resuming {location.name}")
    summary = resume_experiment(prepared, location, options, restart_errored=restart_errored)
    _finish(summary, prepared)


def _options(
    prepared: Prepared, address: str | None, import_paths: list[str], title: str
) -> RunOptions:
    """Run options with a live progress line reading the scheduler's early stops."""
    objective = prepared.recipe.objective
    stopped_early: set[str] = set()
    progress = ProgressLine(
        total_trials(prepared.plan),
        objective.metric,
        objective.mode,
        stopped_early,
        Console(stderr=True),
        title=title,
    )
    return RunOptions(address, [progress], import_paths, stopped_early)


def _finish(summary: RunSummary, prepared: Prepared) -> None:
    print_summary(Console(), summary, prepared.recipe.objective.metric)
    if summary.status == "interrupted":
        Console(stderr=True).print(
            f"interrupted: the results so far are kept; `tunefw resume {summary.location.name}`"
            " continues",
            highlight=False,
        )
        raise typer.Exit(130)


def print_summary(console: Console, summary: RunSummary, metric: str) -> None:
    best = summary.best
    if best is None:
        console.print(f"no trial reported {metric}", highlight=False)
    else:
        config = ", ".join(f"{k}={_fmt(v)}" for k, v in best.config.items())
        console.print(
            f"best {best.metric} {best.score:.4f} · trial {best.trial_id} · {config}",
            highlight=False,
            soft_wrap=True,
        )
    console.print(
        f"{summary.trials} trials ({summary.stopped_early} stopped early, "
        f"{summary.errored} errored) in {summary.wall_time_s:.1f} s · {summary.rows} rows in "
        f"{summary.location.storage.display}/{summary.location.name}",
        highlight=False,
        soft_wrap=True,
    )


def _fmt(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
