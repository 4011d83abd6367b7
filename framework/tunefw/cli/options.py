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


def recipe_overrides(set_: list[str], storage: str | None, name: str | None) -> list[str]:
    """``--set`` overrides, with ``--storage`` and ``--name`` as the fields they override."""
    overrides = list(set_)
    overrides += [f"storage={storage}"] if storage else []
    overrides += [f"name={name}"] if name else []
    return overrides
