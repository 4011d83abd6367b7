"""`tunefw run`, `tunefw resume` and `tunefw validate`: flags over `tunefw.running.launch`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from tunefw.cli.options import (
    DEFAULT_STORAGE,
    JsonOption,
    NameArg,
    QuietOption,
    SetOption,
    StorageOption,
    recipe_overrides,
)

if TYPE_CHECKING:
    from tunefw.running.runner import RunSummary

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


def validate(
    recipe: RecipeArg,
    set_: SetOption = [],  # noqa: B006 (typer reads it)
    load_data: LoadDataOption = False,
) -> None:
    """Check a recipe, its plugins, its space and every stage, running none of its code.

    Imports the modules the recipe names and calls no loader, function or model in them;
    --load-data also calls the data loader and splits the data.
    """
    from tunefw.running.compile import total_trials
    from tunefw.running.launch import check
    from tunefw.running.progress.output import print_notes

    checked = check(recipe, set_, load_data)
    prepared = checked.prepared
    loaded = prepared.recipe
    print_notes(note for ready in (prepared, *checked.stages) for note in ready.notes)
    unloaded = " · data not loaded (--load-data checks it)" if loaded.data and not load_data else ""
    Console().print(
        f"{recipe}: ok · {loaded.trainable.kind} trainable · {loaded.search.strategy} search "
        f"({total_trials(prepared.plan)} trials) · {loaded.validation.strategy} validation · "
        f"scheduler {loaded.scheduler.type}{unloaded}",
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
    quiet: QuietOption = False,
    json: JsonOption = False,
) -> None:
    """Run a recipe: Ray Tune with ASHA, every result written to Parquet."""
    from tunefw.running.launch import launch
    from tunefw.running.progress.output import RunOutput

    output = RunOutput.from_flags(quiet, json)
    overrides = recipe_overrides(set_, storage, name)
    with output.session():
        summary = launch(
            recipe, overrides, output, address=address, resume=resume, overwrite=overwrite
        )
    _exit_if_interrupted(summary)


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
    from tunefw.running.launch import resume_stored
    from tunefw.running.progress.output import RunOutput
    from tunefw.store.layout import Storage, find_experiment

    output = RunOutput.from_flags(quiet, json)
    location = find_experiment(Storage.open(storage), name)
    with output.session():
        summary = resume_stored(location, output, address=address, restart_errored=restart_errored)
    _exit_if_interrupted(summary)


def _exit_if_interrupted(summary: RunSummary) -> None:
    if summary.status == "interrupted":
        Console(stderr=True).print(
            f"interrupted: the results so far are kept; `tunefw resume {summary.location.name}`"
            " continues",
            highlight=False,
        )
        raise typer.Exit(130)
