"""``tunefw run`` and ``tunefw validate``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from tunefw import plugins as plugin_resolution
from tunefw.cli.options import SetOption
from tunefw.compile import compile_experiment, total_trials
from tunefw.imports import extend_sys_path, recipe_import_paths
from tunefw.plugins import ResolvedPlugins
from tunefw.progress import ProgressLine
from tunefw.protocols import SearchPlan
from tunefw.recipe import Recipe
from tunefw.recipe_file import load_recipe
from tunefw.runner import RunSummary, run_experiment
from tunefw.store.layout import Storage, new_run

RecipeArg = Annotated[Path, typer.Argument(help="The recipe YAML file.")]


def _load(path: Path, overrides: list[str]) -> tuple[Recipe, ResolvedPlugins, SearchPlan]:
    recipe = load_recipe(path, overrides)
    extend_sys_path(recipe_import_paths(path))
    plugins = plugin_resolution.resolve(recipe)
    return recipe, plugins, plugin_resolution.check(recipe, plugins)


def validate(recipe: RecipeArg, set_: SetOption = []) -> None:  # noqa: B006 (typer reads it)
    """Check a recipe, its plugins and its search space without running anything."""
    loaded, plugins, plan = _load(recipe, set_)
    location = new_run(Storage.open(loaded.storage), loaded.name)
    compile_experiment(loaded, plugins, plan, location)
    Console().print(
        f"{recipe}: ok · {loaded.trainable.kind} trainable · {loaded.search.strategy} search "
        f"({total_trials(plan)} trials) · {loaded.validation.strategy} validation · "
        f"scheduler {loaded.scheduler.type}",
        highlight=False,
    )


def run(
    recipe: RecipeArg,
    set_: SetOption = [],  # noqa: B006 (typer reads it)
    address: Annotated[
        str | None,
        typer.Option(help="Ray cluster to connect to; an embedded local Ray if not given."),
    ] = None,
    storage: Annotated[str | None, typer.Option(help="Overrides the recipe's storage.")] = None,
    name: Annotated[str | None, typer.Option(help="Overrides the recipe's name.")] = None,
) -> None:
    """Run a recipe: Ray Tune with ASHA, every result written to Parquet."""
    overrides = list(set_)
    overrides += [f"storage={storage}"] if storage else []
    overrides += [f"name={name}"] if name else []
    loaded, plugins, plan = _load(recipe, overrides)
    location = new_run(Storage.open(loaded.storage), loaded.name)
    console = Console(stderr=True)
    stopped_early: set[str] = set()
    progress = ProgressLine(
        total_trials(plan),
        loaded.objective.metric,
        loaded.objective.mode,
        stopped_early,
        console,
        title=f"running {loaded.name} (run {location.run_id})",
    )
    summary = run_experiment(
        loaded,
        plugins,
        plan,
        location,
        address=address,
        callbacks=[progress],
        import_paths=recipe_import_paths(recipe),
        stopped_early=stopped_early,
    )
    print_summary(Console(), summary, loaded)
    if summary.status == "interrupted":
        console.print("interrupted: the results written so far are kept", highlight=False)
        raise typer.Exit(130)


def print_summary(console: Console, summary: RunSummary, recipe: Recipe) -> None:
    best = summary.best
    if best is None:
        console.print(f"no trial reported {recipe.objective.metric}", highlight=False)
    else:
        config = ", ".join(f"{k}={_fmt(v)}" for k, v in best.config.items())
        console.print(
            f"best {best.metric} {best.score:.4f} · trial {best.trial_id} · {config}",
            highlight=False,
            soft_wrap=True,
        )
    console.print(
        f"{summary.trials} trials ({summary.stopped_early} stopped by ASHA, "
        f"{summary.errored} errored) in {summary.wall_time_s:.1f} s · {summary.rows} rows in "
        f"{summary.location.run_dir}",
        highlight=False,
        soft_wrap=True,
    )


def _fmt(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
