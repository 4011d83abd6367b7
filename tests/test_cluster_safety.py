"""``tunefw cluster local`` does not trust ``cluster.json``; no test here starts Ray.

Each state file is written by hand, pointing at real processes that are not Ray nodes: a pid
that now names another process is never signalled, a directory ``up`` did not make is never
removed, and a corrupt state file is one line naming it, with nothing changed.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tunefw.cli.main import main
from tunefw.cluster import local, processes

from .faults_helpers import snapshot

CLUSTER_ID = "0123456789abcdef0123456789abcdef"
MARKER_FILE = ".tunefw-local-cluster"  # what up writes in its temporary directory
ID_ENV = "TUNEFW_LOCAL_CLUSTER"  # what every process of a node inherits
#: Above any pid_max: a state file that names it can harm nothing, even if it were obeyed.
NO_PID = 999_999_999
LAUNCHED = [sys.executable, "-m", "tunefw.cluster.ray_node", "start", "--block"]


def start_ticks(pid: int) -> int:
    """Field 22 of /proc/PID/stat, read here independently of the code under test."""
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.fixture
def stranger() -> Iterator[subprocess.Popen[bytes]]:
    """An unrelated process, leader of a process group of its own, as each node is."""
    process = subprocess.Popen(["sleep", "120"], start_new_session=True)
    yield process
    process.kill()
    process.wait()


def node(pid: int, started: int, command: list[str], name: str = "head") -> dict[str, object]:
    return {
        "name": name, "pid": pid, "started": started, "command": command, "log": "/dev/null",
        "num_cpus": 1.0, "num_gpus": 0.0, "resources": {},
    }  # fmt: skip


def marked_temp_dir(tmp_path: Path, cluster_id: str = CLUSTER_ID) -> Path:
    """A temporary directory as ``up`` leaves it: the marker holding the cluster's id."""
    temp = tmp_path / "tunefw-ray-x"
    temp.mkdir()
    (temp / MARKER_FILE).write_text(cluster_id)
    return temp


def write_state(directory: Path, temp_dir: Path, nodes: list[dict[str, object]]) -> Path:
    directory.mkdir(exist_ok=True)
    state = directory / "cluster.json"
    state.write_text(
        json.dumps(
            {
                "cluster_id": CLUSTER_ID,
                "directory": str(directory),
                "address": "127.0.0.1:1",
                "dashboard": "http://127.0.0.1:1",
                "token_path": str(directory / "auth_token"),
                "temp_dir": str(temp_dir),
                "nodes": nodes,
            }
        )
    )
    return state


def cluster(*args: str) -> None:
    assert main(["cluster", "local", *args]) == 0


def refused(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(["cluster", "local", *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def reused_pid_entries(pid: int) -> dict[str, dict[str, object]]:
    return {
        "started at another time": node(pid, start_ticks(pid) + 1, LAUNCHED),
        "another command line": node(pid, start_ticks(pid), LAUNCHED),
    }


@pytest.mark.parametrize("case", ["started at another time", "another command line"])
def test_down_never_signals_a_pid_that_is_now_another_process(tmp_path, capsys, stranger, case):
    directory = tmp_path / "cluster"
    temp = marked_temp_dir(tmp_path)
    write_state(directory, temp, [reused_pid_entries(stranger.pid)[case]])
    cluster("down", "--dir", str(directory))
    out = capsys.readouterr().out
    assert f"head: pid {stranger.pid} is another process now; not signalled" in out
    assert "no local cluster was running" in out
    time.sleep(0.3)
    assert stranger.poll() is None, "the unrelated process still runs"
    assert not temp.exists() and not (directory / "cluster.json").exists(), "up's leftovers go"


def test_status_does_not_call_a_reused_pid_running(tmp_path, capsys, stranger):
    directory = tmp_path / "cluster"
    entry = reused_pid_entries(stranger.pid)["started at another time"]
    write_state(directory, marked_temp_dir(tmp_path), [entry])
    cluster("status", "--dir", str(directory))
    out = capsys.readouterr().out
    assert "stopped (pid now another process)" in out and "running" not in out
    assert stranger.poll() is None


@pytest.mark.parametrize("marker", [None, "ffffffffffffffffffffffffffffffff", b"\xff\x00"])
def test_down_refuses_a_temp_dir_up_did_not_make_and_changes_nothing(
    tmp_path, capsys, stranger, marker
):
    """The state file points at the user's own directory: nothing in it, nor the process
    the state file names, may be touched."""
    directory = tmp_path / "cluster"
    mine = tmp_path / "my-project"
    (mine / "src").mkdir(parents=True)
    (mine / "src" / "main.py").write_text("print('mine')\n")
    if isinstance(marker, str):
        (mine / MARKER_FILE).write_text(marker)
    elif marker is not None:
        (mine / MARKER_FILE).write_bytes(marker)
    identity = node(stranger.pid, start_ticks(stranger.pid), LAUNCHED)
    state = write_state(directory, mine, [identity])
    before = snapshot(tmp_path)
    line = refused(capsys, "down", "--dir", str(directory))
    assert line.startswith(f"error: {state}: temp_dir {mine} has no {MARKER_FILE}")
    assert snapshot(tmp_path) == before, "nothing removed or changed"
    assert stranger.poll() is None


VALID = {
    "cluster_id": CLUSTER_ID, "directory": "/x", "address": "127.0.0.1:1",
    "dashboard": "http://127.0.0.1:1", "token_path": "/x/auth_token", "temp_dir": "/nonexistent",
}  # fmt: skip
OLD_FORMAT_NODE = {
    "name": "head", "pid": NO_PID, "log": "/dev/null", "num_cpus": 1.0, "num_gpus": 0.0,
    "resources": {},
}  # fmt: skip
GOOD_NODE = node(NO_PID, 1, LAUNCHED)
CORRUPT: dict[str, tuple[bytes, str]] = {
    "garbage": (b"\x89PNG\r\n\x1a\n\x00\xff" * 8, "Invalid JSON"),
    "empty": (b"", "Invalid JSON"),
    "list": (b"[]", "Input should be an object"),
    "empty object": (b"{}", "cluster_id: required field is missing"),
    "an older tunefw's": (
        json.dumps({k: v for k, v in VALID.items() if k != "cluster_id"}
                   | {"nodes": [OLD_FORMAT_NODE]}).encode(),
        "cluster_id: required field is missing",
    ),
    "node without start time": (
        json.dumps(VALID | {"nodes": [OLD_FORMAT_NODE | {"command": LAUNCHED}]}).encode(),
        "nodes[0].started: required field is missing",
    ),
    "pid as text": (
        json.dumps(VALID | {"nodes": [GOOD_NODE | {"pid": str(NO_PID)}]}).encode(),
        "nodes[0].pid: Input should be a valid integer",
    ),
    "pid as bool": (
        json.dumps(VALID | {"nodes": [GOOD_NODE | {"pid": True}]}).encode(),
        "nodes[0].pid: Input should be a valid integer",
    ),
    "pid 0 (this group)": (
        json.dumps(VALID | {"nodes": [GOOD_NODE | {"pid": 0}]}).encode(),
        "nodes[0].pid: Input should be greater than 1",
    ),
    "pid -1 (every process)": (
        json.dumps(VALID | {"nodes": [GOOD_NODE | {"pid": -1}]}).encode(),
        "nodes[0].pid: Input should be greater than 1",
    ),
    "not the launcher": (
        json.dumps(VALID | {"nodes": [GOOD_NODE | {"command": ["sleep", "120"]}]}).encode(),
        "nodes[0].command: not the `ray start` launcher",
    ),
    "nodes as an object": (json.dumps(VALID | {"nodes": {}}).encode(), "nodes: Input should be"),
    "unknown field": (
        json.dumps(VALID | {"nodes": [], "pids": [1]}).encode(),
        "pids: unknown field",
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", CORRUPT)
@pytest.mark.parametrize("command", ["down", "status", "up"])
def test_a_corrupt_state_file_is_one_line_naming_it(tmp_path, capsys, monkeypatch, case, command):
    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("refused too late")

    monkeypatch.setattr(local, "_start", forbidden)  # no node started: Ray never runs here
    monkeypatch.setattr(local, "_signal", forbidden)  # nothing signalled, pid 0 and -1 included
    directory = tmp_path / "cluster"
    directory.mkdir()
    content, expected = CORRUPT[case]
    state = directory / "cluster.json"
    state.write_bytes(content)
    line = refused(capsys, command, "--dir", str(directory))
    assert line.startswith(f"error: {state}: not a state file `tunefw cluster local up` wrote (")
    assert expected in line
    assert line.isprintable() and line.isascii(), "none of the file's bytes"
    assert snapshot(tmp_path) == {"cluster": None, "cluster/cluster.json": content}, "unchanged"


FAKE_LAUNCHER = """
import signal, subprocess, sys, time

child = subprocess.Popen(["sleep", "120"])


def stop(*_):
    child.kill()
    sys.exit(0)


signal.signal(signal.SIGTERM, stop)
print("ready", flush=True)
time.sleep(120)
"""


@pytest.fixture
def fake_node(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """A process whose command line is the launcher's: ``python -m tunefw.cluster.ray_node
    start``, where that module (shadowed on PYTHONPATH) only sleeps, with a child, as
    ``ray start --block`` waits on its node's processes."""
    root = tmp_path / "fake"
    (root / "tunefw" / "cluster").mkdir(parents=True)
    (root / "tunefw" / "__init__.py").write_text("")
    (root / "tunefw" / "cluster" / "__init__.py").write_text("")
    (root / "tunefw" / "cluster" / "ray_node.py").write_text(FAKE_LAUNCHER)
    env = os.environ | {"PYTHONPATH": str(root)}
    process = subprocess.Popen(
        LAUNCHED, env=env, start_new_session=True, stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None and process.stdout.readline() == "ready\n"
    yield process
    kill_group(process.pid)
    process.wait()


def kill_group(group: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, signal.SIGKILL)


def test_down_stops_a_node_that_is_still_its_process(tmp_path, capsys, fake_node):
    directory = tmp_path / "cluster"
    temp = marked_temp_dir(tmp_path)
    members = processes.group_members(fake_node.pid)
    assert len(members) == 2, "the launcher and its child"
    write_state(directory, temp, [node(fake_node.pid, start_ticks(fake_node.pid), LAUNCHED)])
    cluster("status", "--dir", str(directory))
    assert "running" in capsys.readouterr().out
    cluster("down", "--dir", str(directory))
    assert "stopped head" in capsys.readouterr().out
    assert not [pid for pid in members if alive(pid)], "the node's group is gone"
    assert not temp.exists() and not (directory / "cluster.json").exists()


def test_down_never_signals_a_launcher_started_at_another_time(tmp_path, capsys, fake_node):
    """The command line is the launcher's, but the start time is not the recorded one: the pid
    was reused by another node's ``ray start`` (another cluster's, say)."""
    directory = tmp_path / "cluster"
    entry = node(fake_node.pid, start_ticks(fake_node.pid) - 1, LAUNCHED)
    write_state(directory, marked_temp_dir(tmp_path), [entry])
    cluster("down", "--dir", str(directory))
    assert "is another process now; not signalled" in capsys.readouterr().out
    time.sleep(0.3)
    assert fake_node.poll() is None and len(processes.group_members(fake_node.pid)) == 2


def orphaned_group(env: dict[str, str]) -> tuple[int, int]:
    """A process group whose leader has exited, leaving a ``sleep``: (group, sleep's pid)."""
    leader = subprocess.Popen(
        ["sh", "-c", "sleep 120 & echo $!"],
        env=env,
        start_new_session=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert leader.stdout is not None
    left = int(leader.stdout.readline())
    leader.wait()
    return leader.pid, left


def test_down_kills_what_a_dead_node_left_only_if_it_carries_the_cluster_id(tmp_path, capsys):
    """The leaders died before ``down`` (pids gone): of their groups, only processes started
    with this cluster's id are the node's leftovers; another group is never touched."""
    tagged = orphaned_group(os.environ | {ID_ENV: CLUSTER_ID})
    foreign = orphaned_group(os.environ | {ID_ENV: "f" * 32})
    plain = orphaned_group(dict(os.environ))
    try:
        directory = tmp_path / "cluster"
        entries = [node(group, 1, LAUNCHED, name=f"worker-{i}")
                   for i, (group, _) in enumerate([tagged, foreign, plain], start=1)]  # fmt: skip
        write_state(directory, marked_temp_dir(tmp_path), entries)
        cluster("down", "--dir", str(directory))
        assert "no local cluster was running" in capsys.readouterr().out
        deadline = time.monotonic() + 10
        while alive(tagged[1]) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not alive(tagged[1]), "the dead node's leftover is killed"
        assert alive(foreign[1]) and alive(plain[1]), "processes of other origin run on"
    finally:
        for _, pid in (tagged, foreign, plain):
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
