"""``tunefw cluster local up|down|status``: the local multi-node development cluster."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from tunefw.cluster import local
from tunefw.errors import TunefwError

DirOption = Annotated[
    Path,
    typer.Option(
        "--dir",
        envvar="TUNEFW_CLUSTER_DIR",
        help="The cluster's directory: its state, token and logs.",
    ),
]
DEFAULT_DIR = Path.home() / ".tunefw" / "local-cluster"

cluster_app = typer.Typer(help="Ray clusters.", no_args_is_help=True)
local_app = typer.Typer(
    help="A real multi-node Ray cluster on this machine (127.0.0.1 only, token required).",
    no_args_is_help=True,
)
cluster_app.add_typer(local_app, name="local")


@local_app.command("up")
def up(
    workers: Annotated[int, typer.Option(min=0, help="Worker nodes beside the head.")] = 2,
    cpus_per_worker: Annotated[float, typer.Option(min=0)] = 1,
    gpus_per_worker: Annotated[
        float, typer.Option(min=0, help="GPUs each worker declares (need not exist).")
    ] = 0,
    resources: Annotated[
        str, typer.Option(help='Custom resources of each worker, as JSON: {"tpu_slice": 1}.')
    ] = "{}",
    port: Annotated[
        int | None, typer.Option(help="The head's port; a free one if not given.")
    ] = None,
    dashboard_port: Annotated[int | None, typer.Option(help="A free one if not given.")] = None,
    directory: DirOption = DEFAULT_DIR,
) -> None:
    """Start a head and worker nodes with `ray start`, each declaring its CPUs and GPUs."""
    cluster = local.up(
        directory,
        local.WorkerSpec(workers, cpus_per_worker, gpus_per_worker, _resources(resources)),
        port=port,
        dashboard_port=dashboard_port,
    )
    console = Console()
    console.print(
        f"local cluster up: head + {workers} workers at {cluster.address}, "
        f"dashboard {cluster.dashboard}",
        highlight=False,
    )
    console.print(_connect_hint(cluster), highlight=False, soft_wrap=True)


@local_app.command("down")
def down(directory: DirOption = DEFAULT_DIR) -> None:
    """Stop the nodes `up` started, and only those."""
    stopped = local.down(directory)
    console = Console()
    for node in stopped.reused:
        console.print(
            f"{node.name}: pid {node.pid} is another process now; not signalled", highlight=False
        )
    names = ", ".join(stopped.nodes)
    console.print(f"stopped {names}" if names else "no local cluster was running", highlight=False)


@local_app.command("status")
def status(directory: DirOption = DEFAULT_DIR) -> None:
    """The nodes `up` started, whether they run, and what Ray's head sees."""
    cluster = local.load(directory)
    if cluster is None:
        raise TunefwError(f"--dir {directory}: no local cluster; start one with `up`")
    alive = local.alive_count(cluster)
    table = Table("node", "pid", "process", "CPUs", "GPUs", "resources")
    for node in cluster.nodes:
        state = "[green]running[/]" if node.running() else "[red]stopped[/]"
        if node.pid_reused():
            state += " (pid now another process)"
        table.add_row(node.name, str(node.pid), state, f"{node.num_cpus:g}",
                      f"{node.num_gpus:g}", json.dumps(node.resources))  # fmt: skip
    console = Console()
    console.print(table)
    console.print(
        f"{alive} of {len(cluster.nodes)} nodes alive at {cluster.address} · "
        f"dashboard {cluster.dashboard}",
        highlight=False,
    )
    console.print(_connect_hint(cluster), highlight=False, soft_wrap=True)


def _connect_hint(cluster: local.LocalCluster) -> str:
    exports = " ".join(f"{k}={v}" for k, v in cluster.client_env().items())
    return (
        f"connect: export {exports}\n"
        f"  tunefw run RECIPE --address {cluster.address}\n"
        f"  tunefw submit RECIPE --address {cluster.dashboard}"
    )


def _resources(text: str) -> dict[str, float]:
    try:
        parsed = json.loads(text)
        if not isinstance(parsed, dict):
            raise ValueError("not an object")
        return {str(k): float(v) for k, v in parsed.items()}
    except (ValueError, TypeError) as exc:
        raise TunefwError(
            f'--resources: a JSON object of numbers, like {{"x": 1}} ({exc})'
        ) from None
