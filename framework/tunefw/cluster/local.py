"""``tunefw cluster local``: a real multi-node Ray cluster on this machine, for development.

A head and N worker nodes, each one ``ray start --block`` in a process group of its own, so
``down`` stops exactly the processes ``up`` started and nothing else of Ray's. Every port listens
on 127.0.0.1, and token authentication is on with a token of the cluster's own, kept in its
directory. Worker nodes may declare GPUs they do not have (``--num-gpus``), so GPU scheduling
and packing can be exercised on a machine without one.

``cluster.json`` is not trusted: a pid in it is signalled only while it is still the ``ray start``
``up`` launched (same start time, same command line), and the temporary directory it names is
removed only if it holds the marker ``up`` wrote there. Linux only: both checks read /proc.
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

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from tunefw.cluster import processes
from tunefw.errors import TunefwError
from tunefw.recipe.messages import error_lines

STATE_FILE = "cluster.json"
#: Written by ``up`` into the temporary directory it makes, holding the cluster's id.
MARKER_FILE = ".tunefw-local-cluster"
#: Every process of a node inherits the cluster's id in this variable.
ID_ENV = "TUNEFW_LOCAL_CLUSTER"
#: The Ray node label that names each node ("head", "worker-1"...).
NODE_LABEL = "tunefw-node"
TOKEN_FILE = "auth_token"
#: Variables that would point a node at another cluster or another token.
FOREIGN_ENV = ("RAY_ADDRESS", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH", "RAY_AUTH_MODE")
#: What every node's command line holds after the interpreter: the ``ray start`` launcher.
LAUNCHER = ["-m", "tunefw.cluster.ray_node", "start"]


class NodeProcess(BaseModel):
    """One ``ray start --block`` this cluster started: the leader of its process group, known by
    its pid, start time and command line together (a pid alone may since name another process)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    name: str
    pid: int = Field(gt=1)  # 0, -1 and 1 would signal this process's group, every process, init
    started: int = Field(ge=0, description="Clock ticks after boot: /proc/PID/stat field 22.")
    command: list[str]
    log: str
    num_cpus: float
    num_gpus: float
    resources: dict[str, float]

    @field_validator("command")
    @classmethod
    def _is_launcher(cls, command: list[str]) -> list[str]:
        if command[1:4] != LAUNCHER:
            raise ValueError("not the `ray start` launcher that `up` runs")
        return command

    def running(self) -> bool:
        """Whether the pid is still this node's ``ray start``: same start time, same command."""
        return (
            processes.start_time(self.pid) == self.started
            and processes.command_line(self.pid) == self.command
        )

    def pid_reused(self) -> bool:
        """Whether the pid now names another process, which nothing here may signal."""
        return not self.running() and processes.start_time(self.pid) is not None


class LocalCluster(BaseModel):
    """What ``up`` started, saved in the cluster's directory for ``status`` and ``down``."""

    model_config = ConfigDict(extra="forbid", strict=True)

    cluster_id: str = Field(pattern=r"^[0-9a-f]{32}$")
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

    def made_temp_dir(self) -> bool:
        """Whether ``temp_dir`` is the one ``up`` made for this cluster: it holds the marker."""
        try:
            return (Path(self.temp_dir) / MARKER_FILE).read_text() == self.cluster_id
        except (OSError, UnicodeDecodeError):
            return False


@dataclass(frozen=True)
class WorkerSpec:
    """The worker nodes to start: how many, and what each declares."""

    count: int = 2
    cpus: float = 1
    gpus: float = 0
    resources: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Stopped:
    """What ``down`` did: the nodes it stopped, and those whose pid names another process now."""

    nodes: list[str]
    reused: list[NodeProcess]


def load(directory: Path) -> LocalCluster | None:
    """The cluster recorded in ``directory``, if any; a state file ``up`` did not write (corrupt,
    from an older tunefw, edited) is one line naming it."""
    state = directory / STATE_FILE
    if not state.exists():
        return None
    try:
        return LocalCluster.model_validate_json(state.read_bytes())
    except OSError as exc:
        raise TunefwError(f"{state}: cannot read it: {exc.strerror}") from None
    except ValidationError as exc:
        raise TunefwError(
            f"{state}: not a state file `tunefw cluster local up` wrote ({error_lines(exc)[0]}); "
            "stop its nodes by hand if any run, then delete it"
        ) from None


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
    if not processes.available():
        raise TunefwError("tunefw cluster local: needs Linux (/proc tells its nodes from others)")
    existing = load(directory)
    if existing and any(node.running() for node in existing.nodes):
        raise TunefwError(
            f"--dir {directory}: a local cluster is already up at {existing.address}; "
            "run `tunefw cluster local down` first"
        )
    if existing:
        down(directory)
    directory.mkdir(parents=True, exist_ok=True)
    token_path = directory / TOKEN_FILE
    token_path.write_text(secrets.token_hex(32))
    token_path.chmod(0o600)
    (directory / "logs").mkdir(exist_ok=True)
    gcs_port = port or _free_port()
    web_port = dashboard_port or _free_port()
    cluster = LocalCluster(
        cluster_id=secrets.token_hex(16),
        directory=str(directory.resolve()),
        address=f"127.0.0.1:{gcs_port}",
        dashboard=f"http://127.0.0.1:{web_port}",
        token_path=str(token_path.resolve()),
        temp_dir=tempfile.mkdtemp(prefix="tunefw-ray-"),  # short: Ray's socket paths live here
        nodes=[],
    )
    (Path(cluster.temp_dir) / MARKER_FILE).write_text(cluster.cluster_id)
    _save(cluster)  # from here on, down cleans up after a failed start
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


def down(directory: Path, grace_s: float = 45) -> Stopped:
    """Stop the nodes ``up`` started in ``directory`` (workers first), and remove what it made.

    A node whose pid is no longer its ``ray start`` is gone, never signalled; of its group,
    only processes that carry the cluster's id are killed. A temporary directory without the
    marker of ``up`` refuses the whole command, before anything is signalled or removed.
    """
    cluster = load(directory)
    if cluster is None:
        return Stopped([], [])
    state = directory / STATE_FILE
    temp_dir = Path(cluster.temp_dir)
    if temp_dir.exists() and not cluster.made_temp_dir():
        raise TunefwError(
            f"{state}: temp_dir {temp_dir} has no {MARKER_FILE} of this cluster, so `up` did "
            f"not make it; nothing stopped or removed (delete {state} if no cluster runs)"
        )
    ours = [node for node in reversed(cluster.nodes) if node.running()]
    reused = [node for node in cluster.nodes if node.pid_reused()]
    for node in ours:
        _signal(node.pid, signal.SIGTERM, group=False)  # ray start stops its node gracefully
        _wait_stopped(node, grace_s if node.name == "head" else grace_s / 3)
    for node in ours:  # whatever outlived its leader, the leader included
        _signal(node.pid, signal.SIGKILL, group=True)
    for node in cluster.nodes:  # what is left of a node whose leader died before
        for pid in processes.group_members(node.pid):
            if processes.has_env(pid, ID_ENV, cluster.cluster_id):
                _signal(pid, signal.SIGKILL, group=False)
    shutil.rmtree(temp_dir, ignore_errors=True)
    state.unlink(missing_ok=True)
    return Stopped([node.name for node in ours], reused)


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
        *LAUNCHER,
        "--block",
        "--node-ip-address=127.0.0.1",
        f"--temp-dir={cluster.temp_dir}/{name}",
        "--disable-usage-stats",
        f"--num-cpus={cpus:g}",
        f"--num-gpus={gpus:g}",
        f"--resources={json.dumps(dict(resources))}",
        f"--object-store-memory={object_store_bytes}",
        f"--labels={NODE_LABEL}={name}",
        # `ray start` would take 52365 on every node: the head's agent, the one jobs are
        # submitted to, would lose it to any other Ray on this machine, and then every job.
        # 0: the agent binds a free port itself (one picked here could be taken meanwhile)
        "--dashboard-agent-listen-port=0",
        *flags,
    ]
    env = {k: v for k, v in os.environ.items() if k not in FOREIGN_ENV}
    env |= cluster.client_env() | {ID_ENV: cluster.cluster_id}
    with log.open("w") as out:
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    started = processes.start_time(process.pid)  # Popen returns once the command runs
    if started is None:
        process.wait()
        raise _stopped_while_starting(name, str(log))
    node = NodeProcess(
        name=name,
        pid=process.pid,
        started=started,
        command=command,
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
                raise _stopped_while_starting(node.name, node.log)
        if alive_count(cluster) >= count:
            return
        if time.monotonic() > deadline:
            raise TunefwError(
                f"local cluster: {count} nodes did not join within {timeout_s:g} s; "
                f"see the logs in {cluster.directory}/logs"
            )
        time.sleep(0.5)


def _stopped_while_starting(name: str, log: str) -> TunefwError:
    return TunefwError(
        f"local cluster: the {name} node stopped while starting ({_last_line(log)}); see {log}"
    )


def _wait_stopped(node: NodeProcess, timeout_s: float) -> None:
    """Wait until no process of the node's group is left, or ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while processes.group_members(node.pid) and time.monotonic() < deadline:
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
