"""``tunefw plugins``: every registered plugin with its kind, package and version."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from tunefw.plugin_api import registry


def plugins(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per plugin.")] = False,
) -> None:
    """List plugins; one that fails to load is shown with its error, the others still work."""
    infos = registry.describe()
    console = Console()
    if as_json:
        for info in infos:
            console.print_json(json.dumps(asdict(info)))
        return
    table = Table("kind", "name", "package", "version", "status")
    for info in infos:
        status = "[red]broken[/]: " + info.error if info.error else "[green]ok[/]"
        table.add_row(info.kind, info.name, info.package, info.version, status)
    console.print(table)
