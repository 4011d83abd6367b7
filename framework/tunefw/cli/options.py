"""Options shared by several commands."""

from __future__ import annotations

from typing import Annotated

import typer

from tunefw.recipe import schema as recipe
from tunefw.recipe.loading import flag_overrides

DEFAULT_STORAGE = recipe.DEFAULT_STORAGE

SetOption = Annotated[
    list[str],
    typer.Option(
        "--set", help="Override a recipe field: --set search.num_samples=50 (repeatable)."
    ),
]
StorageOption = Annotated[
    str, typer.Option("--storage", help="Storage root: a path or a URI such as s3://bucket/x.")
]
NameArg = Annotated[str, typer.Argument(help="The experiment's name.")]
QuietOption = Annotated[
    bool, typer.Option("--quiet", "-q", help="Print nothing but errors; the exit code tells.")
]
JsonOption = Annotated[
    bool,
    typer.Option("--json", help="One JSON event per line on stdout, and nothing else there."),
]


def recipe_overrides(set_: list[str], storage: str | None, name: str | None) -> list[str]:
    """``--set`` overrides, then ``--storage`` and ``--name``: the fields they set, to the
    exact strings given (``--name 123`` is the name "123"; a blank one is refused)."""
    return [*set_, *flag_overrides({"storage": storage, "name": name}, "--")]
