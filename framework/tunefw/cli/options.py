"""Options shared by several commands."""

from __future__ import annotations

from typing import Annotated

import typer

DEFAULT_STORAGE = "./tunefw-results"

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
