"""``tunefw cluster local``: a real multi-node Ray cluster on this machine, for development.

A head and N worker nodes, each one ``ray start --block`` in a process group of its own, so
``down`` stops exactly the processes ``up`` started and nothing else of Ray's. Every port listens
on 127.0.0.1, and token authentication is on with a token of the cluster's own, kept in its
directory. Worker nodes may declare GPUs they do not have (``--num-gpus``), so GPU scheduling
and packing can be exercised on a machine without one.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel

from tunefw.errors import TunefwError

STATE_FILE = "cluster.json"
#: The Ray node label that names each node ("head", "worker-1"...).
NODE_LABEL = "tunefw-node"
TOKEN_FILE = "auth_token"
#: Variables that would point a node at another cluster or another token.
FOREIGN_ENV = ("RAY_ADDRESS", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH", "RAY_AUTH_MODE")


class NodeProcess(BaseModel):
    """One ``ray start --block`` this cluster started: the leader of its process group."""

    name: str
    pid: int
    log: str
    num_cpus: float
    num_gpus: float
    resources: dict[str, float]

    def running(self) -> bool:
        """Whether any process of the node's group is alive."""
        if not Path("/proc").is_dir():
            try:
                os.killpg(self.pid, 0)
            except ProcessLookupError:
                return False
            return True
        return bool(group_members(self.pid))


class LocalCluster(BaseModel):
    """What ``up`` started, saved in the cluster's directory for ``status`` and ``down``."""

    directory: str
    address: str
    dashboard: str
    token_path: str
    temp_dir: str
    nodes: list[NodeProcess]

    def client_env(self) -> dict[str, str]:
        """The variables a client (driver, job submitter) needs to be let in."""
        return {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": self.token_path}

    def token(self) -> str:
        return Path(self.token_path).read_text().strip()


@dataclass(frozen=True)
class WorkerSpec:
    """The worker nodes to start: how many, and what each declares."""

    count: int = 2
    cpus: float = 1
    gpus: float = 0
    resources: Mapping[str, float] = field(default_factory=dict)


def load(directory: Path) -> LocalCluster | None:
    """The cluster recorded in ``directory``, if any."""
    state = directory / STATE_FILE
    if not state.exists():
        return None
    return LocalCluster.model_validate_json(state.read_text())


def up(
    directory: Path,
    workers: WorkerSpec,
    port: int | None = None,
    dashboard_port: int | None = None,
    head_cpus: float = 1,
    object_store_bytes: int = 512 * 1024**2,
    timeout_s: float = 120,
) -> LocalCluster:
    """Start a head and ``workers.count`` worker nodes; return once all have joined."""
    directory.mkdir(parents=True, exist_ok=True)
    existing = load(directory)
    if existing and any(node.running() for node in existing.nodes):
        raise TunefwError(
            f"--dir {directory}: a local cluster is already up at {existing.address}; "
            "run `tunefw cluster local down` first"
        )
    if existing:
        down(directory)
    token_path = directory / TOKEN_FILE
    token_path.write_text(secrets.token_hex(32))
    token_path.chmod(0o600)
    (directory / "logs").mkdir(exist_ok=True)
    gcs_port = port or _free_port()
    web_port = dashboard_port or _free_port()
    cluster = LocalCluster(
        directory=str(directory.resolve()),
        address=f"127.0.0.1:{gcs_port}",
        dashboard=f"http://127.0.0.1:{web_port}",
        token_path=str(token_path.resolve()),
        temp_dir=tempfile.mkdtemp(prefix="tunefw-ray-"),  # short: Ray's socket paths live here
        nodes=[],
    )
    head_flags = [
        "--head",
        f"--port={gcs_port}",
        "--include-dashboard=true",
        "--dashboard-host=127.0.0.1",
        f"--dashboard-port={web_port}",
        f"--ray-client-server-port={_free_port()}",
    ]
    try:
        _start(cluster, "head", head_cpus, 0, {}, head_flags, object_store_bytes)
        _wait_for_nodes(cluster, 1, timeout_s)
        for index in range(1, workers.count + 1):
            flags = [f"--address={cluster.address}"]
            resources = dict(workers.resources)
            _start(cluster, f"worker-{index}", workers.cpus, workers.gpus, resources, flags,
                   object_store_bytes)  # fmt: skip
        _wait_for_nodes(cluster, workers.count + 1, timeout_s)
    except BaseException:
        down(directory)
        raise
    return cluster


def down(directory: Path, grace_s: float = 45) -> list[str]:
    """Stop the nodes ``up`` started in ``directory`` (workers first); return their names."""
    cluster = load(directory)
    if cluster is None:
        return []
    stopped = [node for node in reversed(cluster.nodes) if node.running()]
    for node in stopped:
        _signal(node.pid, signal.SIGTERM, group=False)  # ray start stops its node gracefully
        _wait_stopped(node, grace_s if node.name == "head" else grace_s / 3)
    for node in cluster.nodes:  # whatever outlived its leader, the leader included
        _signal(node.pid, signal.SIGKILL, group=True)
    shutil.rmtree(cluster.temp_dir, ignore_errors=True)
    (directory / STATE_FILE).unlink(missing_ok=True)
    return [node.name for node in stopped]


def group_members(group: int) -> list[int]:
    """The live processes of process group ``group``, from /proc; zombies, which a
    container's init may never reap, do not count."""
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[0] != "Z" and int(fields[2]) == group:
                members.append(int(entry.name))
    return members


def alive_nodes(cluster: LocalCluster) -> list[dict[str, object]]:
    """The nodes Ray's head reports alive, from its dashboard (with the cluster's token)."""
    request = urllib.request.Request(
        f"{cluster.dashboard}/api/v0/nodes?limit=1000",
        headers={"Authorization": f"Bearer {cluster.token()}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        body = json.load(response)
    rows: list[dict[str, object]] = body["data"]["result"]["result"]
    return [row for row in rows if row.get("state") == "ALIVE"]


def alive_count(cluster: LocalCluster) -> int:
    """How many nodes Ray's head reports alive; 0 while its dashboard does not answer."""
    try:
        return len(alive_nodes(cluster))
    except (OSError, ValueError, KeyError):
        return 0


def node_ids(cluster: LocalCluster) -> dict[str, str]:
    """Ray's node id of each alive node, by the name ``up`` gave it."""
    found = {}
    for row in alive_nodes(cluster):
        labels = row.get("labels")
        if isinstance(labels, dict) and NODE_LABEL in labels:
            found[str(labels[NODE_LABEL])] = str(row["node_id"])
    return found


def _start(
    cluster: LocalCluster,
    name: str,
    cpus: float,
    gpus: float,
    resources: Mapping[str, float],
    flags: list[str],
    object_store_bytes: int,
) -> None:
    log = Path(cluster.directory) / "logs" / f"{name}.log"
    command = [
        sys.executable,
        "-m",
        "tunefw.cluster.ray_node",
        "start",
        "--block",
        "--node-ip-address=127.0.0.1",
        f"--temp-dir={cluster.temp_dir}/{name}",
        "--disable-usage-stats",
        f"--num-cpus={cpus:g}",
        f"--num-gpus={gpus:g}",
        f"--resources={json.dumps(dict(resources))}",
        f"--object-store-memory={object_store_bytes}",
        f"--labels={NODE_LABEL}={name}",
        *flags,
    ]
    env = {k: v for k, v in os.environ.items() if k not in FOREIGN_ENV}
    env |= cluster.client_env()
    with log.open("w") as out:
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    node = NodeProcess(
        name=name,
        pid=process.pid,
        log=str(log),
        num_cpus=cpus,
        num_gpus=gpus,
        resources=dict(resources),
    )
    cluster.nodes.append(node)
    _save(cluster)


def _wait_for_nodes(cluster: LocalCluster, count: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        for node in cluster.nodes:
            if not node.running():
                raise TunefwError(
                    f"local cluster: the {node.name} node stopped while starting "
                    f"({_last_line(node.log)}); see {node.log}"
                )
        if alive_count(cluster) >= count:
            return
        if time.monotonic() > deadline:
            raise TunefwError(
                f"local cluster: {count} nodes did not join within {timeout_s:g} s; "
                f"see the logs in {cluster.directory}/logs"
            )
        time.sleep(0.5)


def _wait_stopped(node: NodeProcess, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while node.running() and time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):  # reap it if it is this process's child
            os.waitpid(node.pid, os.WNOHANG)
        time.sleep(0.2)


def _signal(pid: int, sig: signal.Signals, group: bool) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, sig) if group else os.kill(pid, sig)


def _save(cluster: LocalCluster) -> None:
    state = Path(cluster.directory) / STATE_FILE
    partial = state.with_suffix(".tmp")
    partial.write_text(cluster.model_dump_json(indent=2))
    partial.replace(state)


def _last_line(log: str) -> str:
    lines = [line for line in Path(log).read_text(errors="replace").splitlines() if line.strip()]
    return lines[-1].strip() if lines else "no output"


def _free_port() -> int:
    """A port nothing listens on, from the kernel's ephemeral range (outside Ray's
    10002-19999 worker ports)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
