"""``tunefw new-plugin``: scaffold a plugin package of any kind."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from tunefw.plugin_api.registry import GROUPS
from tunefw.scaffold.package import new_plugin as write_package


def _kinds() -> list[str]:
    return list(GROUPS)


def new_plugin(
    kind: Annotated[
        str, typer.Argument(help=f"One of: {', '.join(GROUPS)}.", autocompletion=_kinds)
    ],
    name: Annotated[str, typer.Argument(help="The plugin's name in recipes: an identifier.")],
    parent: Annotated[
        str, typer.Option("--dir", help="Where to create the package's folder, tunefw-NAME.")
    ] = ".",
) -> None:
    """Create a plugin package: the class, tests against tunefw's contract, its entry point."""
    root = write_package(kind, name, Path(parent))
    Console().print(
        f"created {root}; next: pip install -e {root} && pytest {root}",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
