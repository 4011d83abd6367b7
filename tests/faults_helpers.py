"""Helpers shared by the fault tests: recipes for toy trainables, raw part reads."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import ray

from tunefw.cluster.local import FOREIGN_ENV
from tunefw.store import columns as col
from tunefw.store.layout import ExperimentLocation, Storage, find_experiment
from tunefw.store.reader import final_rows, read_results

from .conftest import DATA


def function_recipe(tmp_path: Path, body: str) -> Path:
    """A recipe for the ``function`` trainable, with the toy module beside it."""
    shutil.copy(DATA / "toy_trainables.py", tmp_path)
    path = tmp_path / "recipe.yaml"
    path.write_text(textwrap.dedent(body) + f"storage: {tmp_path / 'results'}\n")
    return path


def experiment(tmp_path: Path, name: str) -> ExperimentLocation:
    return find_experiment(Storage.open(str(tmp_path / "results")), name)


def stored_keys(location: ExperimentLocation) -> list[tuple[str, int]]:
    """Every (trial_id, iteration) physically stored, reading each part on its own."""
    keys = []
    for part in sorted(Path(location.results_dir).glob("*.parquet")):
        table = pq.read_table(part)  # raises on a corrupt part
        keys += list(
            zip(table[col.TRIAL_ID].to_pylist(), table[col.ITERATION].to_pylist(), strict=True)
        )
    return keys


def start_driver(recipe: Path, *flags: str, **popen: Any) -> subprocess.Popen[Any]:
    """``tunefw run RECIPE [FLAGS]`` in its own process, against the session's Ray."""
    address = ray.get_runtime_context().gcs_address
    command = ["tunefw", "run", str(recipe), "--address", address, *flags]
    return subprocess.Popen(command, **popen)


def results_seen(driver: subprocess.Popen[str], count: int) -> Callable[[], bool]:
    """Whether ``driver`` (run with ``--json``, its stdout a text pipe) has printed ``count``
    ``trial_result`` events, reading its next line on each call; True once it has ended."""
    seen = [0]

    def ready() -> bool:
        line = driver.stdout.readline() if driver.stdout else ""
        seen[0] += '"event": "trial_result"' in line
        return seen[0] >= count or (not line and driver.poll() is not None)

    return ready


def env_with(extra: dict[str, str], home: Path | None = None) -> dict[str, str]:
    """This process's environment without its Ray address or token (a child process must
    find its own Ray), plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in FOREIGN_ENV}
    if home is not None:
        env["HOME"] = str(home)
    return env | extra


REFUSED_FAST = {"RAY_NUM_REDIS_GET_RETRIES": "2"}
"""For a client the cluster is expected to refuse: Ray retries joining 20 times, a second
apart, even when the answer is an authentication error; the refusal is the same after 2."""


def wait_until(ready: Callable[[], object], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise TimeoutError("the condition never held")
        time.sleep(0.05)


def has_parts(results_dir: Path) -> Callable[[], bool]:
    return lambda: bool(list(results_dir.glob("part-*.parquet")))


def running_trial_pids() -> list[int]:
    """Processes running a Ray Tune function trial right now for this process's own Ray (its
    raylet is a child of this process): another xdist worker's trials are not ours to kill."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
                ours = parent_of(parent_of(int(entry.name))) == os.getpid()
            except OSError:
                continue
            if cmdline.startswith(b"ray::ImplicitFunc") and ours:
                pids.append(int(entry.name))
    return pids


def parent_of(pid: int) -> int:
    """Field 4 of ``/proc/PID/stat``: the process's parent."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[1])


def children_of(parent: int) -> list[int]:
    """The live processes whose parent is ``parent``."""
    children = []
    for entry in os.listdir("/proc"):
        with contextlib.suppress(OSError, ValueError):
            if entry.isdigit() and parent_of(int(entry)) == parent:
                children.append(int(entry))
    return children


@contextmanager
def trials_killed_at_their_third_checkpoint(ray_dir: Path) -> Iterator[None]:
    """While the block runs, SIGKILL the running trials once one has written its third
    checkpoint into ``ray_dir``: a retry must go on from a checkpoint, not from the start."""

    def kill() -> None:
        wait_until(lambda: list(ray_dir.glob("*/checkpoint_000003")))
        for pid in running_trial_pids():
            os.kill(pid, signal.SIGKILL)

    killer = threading.Thread(target=kill)
    killer.start()
    yield
    killer.join()


def assert_resumed_once_from_a_checkpoint(location: ExperimentLocation, epochs: int) -> None:
    """One trial's every epoch stored exactly once, the retry's reports marked as resumed
    from a checkpoint of epoch 3 or later."""
    table = read_results(location)
    assert sorted(table[col.ITERATION].to_pylist()) == list(range(1, epochs + 1))
    assert final_rows(table)[col.STATUS].to_pylist() == [col.TERMINATED]
    resumed = [v for v in table["metric.resumed_from_epoch"].to_pylist() if v is not None]
    assert resumed and min(resumed) >= 3, "the retry started from a checkpoint, not epoch 0"
    keys = stored_keys(location)
    assert len(keys) == len(set(keys)) == epochs


def validate_without(package: str, recipe: Path) -> subprocess.CompletedProcess[str]:
    """``tunefw validate recipe`` in a process where ``import package`` fails, as where it is
    not installed."""
    blocked = (
        f"import sys; sys.modules[{package!r}] = None; from tunefw.cli.main import main; "
        f"sys.exit(main(['validate', {str(recipe)!r}]))"
    )
    return subprocess.run(
        [sys.executable, "-c", blocked], capture_output=True, text=True, cwd=recipe.parents[1]
    )


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every path under ``root`` and its bytes: to show that nothing changed."""
    return {
        str(p.relative_to(root)): p.read_bytes() if p.is_file() else None
        for p in sorted(root.rglob("*"))
    }
