"""Shared fixtures: one embedded Ray for the whole session, and an isolated home.

The environment is fixed before anything imports Ray: Ray reads some variables at import,
and turns token auth on when ``~/.ray/auth_token`` exists, so tests get a home of their own.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


S3_PORT = _free_port()
S3_SECRET = "tunefw-test-secret-key-never-stored"
os.environ["HOME"] = tempfile.mkdtemp(prefix="tunefw-test-home-")
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
os.environ["RAY_CHDIR_TO_TRIAL_DIR"] = "0"
os.environ.setdefault("RAY_DEDUP_LOGS", "0")
# The local S3 server's address and credentials, set before Ray starts so workers see them.
os.environ |= {
    "AWS_ENDPOINT_URL": f"http://127.0.0.1:{S3_PORT}",
    "AWS_ACCESS_KEY_ID": "tunefw-test",
    "AWS_SECRET_ACCESS_KEY": S3_SECRET,
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}

import ray  # noqa: E402 (after the environment above)

from tunefw.running.ray_connection import start_embedded_ray  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"


#: The test files that take longest on 2 cores (``--durations``), longest first. xdist hands out
#: whole files in collection order (``--dist loadfile --no-loadscope-reorder``), so these start
#: first and the two workers end together, instead of one running a long file alone at the end.
LONGEST_FIRST = (
    "test_cluster.py",
    "test_killed_driver.py",
    "test_torch.py",
    "test_recipes.py",
    "test_search_strategies.py",
    "test_plugin_contracts.py",
    "test_scaffold.py",
    "test_faults.py",
    "test_benchmarks.py",
    "test_run_e2e.py",
    "test_hypergradient.py",
    "test_report.py",
    "test_s3_outage.py",
    "test_python_api.py",
    "test_lightning.py",
    "test_transformers.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: index for index, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


@pytest.fixture(scope="session")
def stored_experiments(ray_session: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The storage root of the experiments the report, export and query tests read: run
    once per session (they only read it)."""
    from .report_helpers import run_experiments

    return run_experiments(tmp_path_factory.mktemp("stored"))


@pytest.fixture(scope="session")
def ray_session() -> Iterator[None]:
    """The one Ray instance of the test session (of each xdist worker): embedded, 1 CPU, on
    127.0.0.1.

    One CPU, because the suite is CPU-bound with two xdist workers on two cores, and starting
    a trial's worker process (Ray, Ray Tune, the trainable's imports: about 4 CPU-seconds)
    is most of what a test costs: with one CPU a run reuses one actor for all its trials
    instead of starting two. Tests about trials in flight together ask for ``cpu: 0.5``.

    Workers' output is not forwarded to this process: Ray forwards it asynchronously, so a
    worker stopped at the end of one test could print into the stderr a later test captures.
    """
    start_embedded_ray(num_cpus=1, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture
def recipe_file(tmp_path: Path):
    """Write a recipe from YAML text into ``tmp_path`` and return its path."""

    def write(text: str, name: str = "recipe.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path

    return write


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real S3 server (moto in server mode) on 127.0.0.1; yields its endpoint."""
    endpoint = os.environ["AWS_ENDPOINT_URL"]
    log = tmp_path_factory.mktemp("moto") / "server.log"
    server = subprocess.Popen(
        [shutil.which("moto_server") or "moto_server", "-H", "127.0.0.1", "-p", str(S3_PORT)],
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(endpoint, timeout=1)
            break
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                raise RuntimeError(f"moto_server did not start: {log.read_text()}") from None
            time.sleep(0.2)
    yield endpoint
    server.terminate()
    server.wait(timeout=10)


@pytest.fixture
def s3_bucket(s3_server: str) -> str:
    """A new, empty bucket on the local S3 server; yields its name."""
    import boto3

    name = f"tunefw-{time.monotonic_ns()}"
    boto3.client("s3", endpoint_url=s3_server).create_bucket(Bucket=name)
    return name
