"""A real local multi-node cluster: head + 2 workers with one fake GPU each, token required.

Started once for the module with ``tunefw cluster local up``; every driver runs in its own
process, as a user's would. The node-failure test kills a worker node, so it runs last.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pyarrow.dataset as pads
import pytest

from tunefw.cluster import local, processes
from tunefw.store import columns as col

from .conftest import DATA, REPO
from .faults_helpers import REFUSED_FAST, env_with, experiment, stored_keys, wait_until

pytestmark = pytest.mark.cluster


def tunefw(*args: str, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["tunefw", *args], env=env, capture_output=True, text=True, timeout=timeout, cwd=REPO
    )


DEFAULT_AGENT_PORT = 52365  # `ray start --dashboard-agent-listen-port`'s default


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[local.LocalCluster]:
    """A 3-node local cluster, started while another Ray holds the port ``ray start`` gives
    every node's agent by default (jobs are submitted to the head's agent)."""
    directory = tmp_path_factory.mktemp("local-cluster")
    with contextlib.ExitStack() as held:
        taken = held.enter_context(socket.socket())
        with contextlib.suppress(OSError):  # already held: by another Ray on this machine
            taken.bind(("127.0.0.1", DEFAULT_AGENT_PORT))
            taken.listen()
        started = tunefw(
            "cluster", "local", "up", "--workers", "2", "--cpus-per-worker", "2",
            "--gpus-per-worker", "1", "--resources", '{"tunefw_worker": 1}', "--dir",
            str(directory), env=env_with({}),
        )  # fmt: skip
    assert started.returncode == 0, started.stderr
    up = local.load(directory)
    assert up is not None
    yield up
    stopped = tunefw("cluster", "local", "down", "--dir", str(directory), env=env_with({}))
    assert stopped.returncode == 0, stopped.stderr
    assert not [node.name for node in up.nodes if node.running()], "down leaves nothing behind"


@pytest.fixture
def client(cluster: local.LocalCluster) -> dict[str, str]:
    """The environment of a client that holds the cluster's token."""
    return env_with(cluster.client_env())


def cluster_recipe(tmp_path: Path, body: str) -> Path:
    shutil.copy(DATA / "toy_trainables.py", tmp_path)
    path = tmp_path / "recipe.yaml"
    path.write_text(textwrap.dedent(body) + f"storage: {tmp_path / 'results'}\n")
    return path


def final_rows(storage: Path, name: str) -> list[dict[str, object]]:
    rows = pads.dataset(storage / name / "results").to_table().to_pylist()
    last: dict[str, dict[str, object]] = {}
    for row in sorted(rows, key=lambda r: r[col.ITERATION]):
        last[str(row[col.TRIAL_ID])] = row
    return list(last.values())


def test_every_node_listens_on_loopback_only_and_status_sees_them(cluster, client):
    ours = {pid for node in cluster.nodes for pid in processes.group_members(node.pid)}
    listing = subprocess.run(["ss", "-ltnuH", "-p"], capture_output=True, text=True, check=True)
    addresses = {
        line.split()[4].rsplit(":", 1)[0]
        for line in listing.stdout.splitlines()
        if {int(p) for p in re.findall(r"pid=(\d+)", line)} & ours
    }
    assert "[::ffff:127.0.0.1]" in addresses or "127.0.0.1" in addresses
    assert addresses <= {"127.0.0.1", "[::ffff:127.0.0.1]", "[::1]"}
    status = tunefw("cluster", "local", "status", "--dir", cluster.directory, env=client)
    assert status.returncode == 0, status.stderr
    assert f"3 of 3 nodes alive at {cluster.address}" in status.stdout
    assert status.stdout.count("running") == 3


JOIN = (
    "import sys, ray; ray.init(address=sys.argv[1], logging_level='ERROR'); "
    "print('nodes', len([n for n in ray.nodes() if n['Alive']]))"
)


def test_the_cluster_lets_in_only_clients_with_its_token(cluster, client, tmp_path):
    def join(env: dict[str, str]) -> subprocess.CompletedProcess:
        command = [sys.executable, "-c", JOIN, cluster.address]
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=180)

    stranger = env_with({"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", **REFUSED_FAST}, home=tmp_path)
    refused = join(stranger)
    assert refused.returncode != 0
    assert "Authentication token is missing or incorrect" in refused.stderr
    wrong = join(stranger | {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": "0" * 64})
    assert wrong.returncode != 0 and "incorrect" in wrong.stderr
    accepted = join(client | {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"})
    assert accepted.returncode == 0, accepted.stderr
    assert "nodes 3" in accepted.stdout

    jobs_refused = tunefw("jobs", "--address", cluster.dashboard, env=stranger)
    assert jobs_refused.returncode == 2
    assert len(jobs_refused.stderr.strip().splitlines()) == 1
    assert "token" in jobs_refused.stderr.lower()
    jobs_accepted = tunefw("jobs", "--address", cluster.dashboard, env=client)
    assert jobs_accepted.returncode == 0, jobs_accepted.stderr


def test_half_gpu_trials_pack_two_per_worker_on_both_workers(cluster, client, tmp_path):
    recipe = cluster_recipe(
        tmp_path,
        """
        name: packing
        trainable: {kind: function, function: "toy_trainables:holds_gpu"}
        objective: {metric: loss, mode: min}
        search:
          strategy: grid
          space: {x: {grid: [1, 2, 3, 4, 5, 6, 7, 8]}, hold_s: 3}
        resources: {cpu: 0.5, gpu: 0.5}
        scheduler: {type: none}
        """,
    )
    ran = tunefw("run", str(recipe), "--address", cluster.address, env=client)
    assert ran.returncode == 0, ran.stderr
    rows = final_rows(tmp_path / "results", "packing")
    assert len(rows) == 8
    workers = {n["node_id"] for n in local.alive_nodes(cluster) if not n["is_head_node"]}
    by_node: dict[object, list[tuple[float, float]]] = defaultdict(list)
    for row in rows:
        assert row[col.GPU_IDS] == "0", "each worker's one GPU"
        by_node[row[col.NODE_ID]].append((float(row["metric.started"]), float(row["metric.ended"])))
    assert set(by_node) == workers, "trials ran on both workers, none on the GPU-less head"
    for intervals in by_node.values():
        starts = sorted(start for start, _ in intervals)
        most = max(sum(s <= t < e for s, e in intervals) for t in starts)
        assert most == 2, "two half-GPU trials at a time on a one-GPU worker"


def test_a_trial_with_worker_bundles_holds_one_gpu_on_each_worker(cluster, client, tmp_path):
    recipe = cluster_recipe(
        tmp_path,
        """
        name: bundles
        trainable: {kind: function, function: "toy_trainables:uses_its_bundles"}
        objective: {metric: loss, mode: min}
        search: {num_samples: 1, space: {workers: 2}}
        resources:
          cpu: 0.5
          workers: [{cpu: 1, gpu: 1}, {cpu: 1, gpu: 1}]
          placement: SPREAD
        scheduler: {type: none}
        """,
    )
    ran = tunefw("run", str(recipe), "--address", cluster.address, env=client)
    assert ran.returncode == 0, ran.stderr
    (row,) = final_rows(tmp_path / "results", "bundles")
    workers = {n["node_id"] for n in local.alive_nodes(cluster) if not n["is_head_node"]}
    assert set(str(row["metric.worker_nodes"]).split(",")) == workers
    assert row[col.GPU_SECONDS] == pytest.approx(2 * row[col.TRIAL_TIME]), "both GPUs charged"


def test_gpu_check_spreads_its_trials_over_the_clusters_gpus(cluster, client, tmp_path):
    """benchmarks/gpu_check.py's CPU path, on the fake GPUs: at most two 0.5-GPU trials per
    GPU, on both workers' GPUs."""
    out = tmp_path / "gpu_check.json"
    ran = subprocess.run(
        [sys.executable, "benchmarks/gpu_check.py", "--address", cluster.address, "--allow-cpu",
         "--fractions", "0.5", "--rounds", "2", "--steps", "20", "--batch", "32", "--width", "32",
         "--cpus-per-trial", "0.5", "--out", str(out)],
        env=client, cwd=REPO, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    (result,) = json.loads(out.read_text())["results"]
    assert result["trials"] == 8 and result["slots_per_gpu"] == 2
    assert len(result["concurrent_by_gpu"]) == 2, "both workers' GPUs held trials"
    assert 1 <= result["max_concurrent_per_gpu"] <= 2
    assert result["devices"] == ["cpu"]


def test_submit_runs_the_quickstart_as_a_job_and_its_results_are_readable(
    cluster, client, tmp_path
):
    storage = tmp_path / "store"
    submitted = tunefw(
        "submit", "recipes/quickstart.yaml", "--address", cluster.dashboard,
        "--storage", str(storage), "--name", "qs-job", "--set", "search.num_samples=3", "--wait",
        env=client,
    )  # fmt: skip
    assert submitted.returncode == 0, submitted.stderr + submitted.stdout
    job_id = re.search(r"submitted (\S+):", submitted.stdout).group(1)
    assert "best accuracy" in submitted.stdout, "--wait follows the driver's log"

    results = tunefw("results", "qs-job", "--storage", str(storage), "--format", "json",
                     env=client)  # fmt: skip
    assert results.returncode == 0, results.stderr
    trials = {row["trial_id"] for row in json.loads(results.stdout)}
    assert len(trials) == 3
    listed = tunefw("jobs", "--address", cluster.dashboard, env=client)
    assert job_id in listed.stdout and "SUCCEEDED" in listed.stdout
    log = tunefw("logs", job_id, "--address", cluster.dashboard, env=client)
    assert log.returncode == 0 and "best accuracy" in log.stdout
    stopped = tunefw("stop", job_id, "--address", cluster.dashboard, env=client)
    assert stopped.returncode == 0 and "had already ended" in stopped.stdout


def test_storage_that_some_node_cannot_see_is_refused(cluster, client, tmp_path):
    """The driver runs in a mount namespace of its own, its storage on a tmpfs the nodes
    (outside that namespace) do not have: the same path, not the same files."""
    unshare = shutil.which("unshare")
    if unshare is None or subprocess.run([unshare, "--mount", "true"]).returncode != 0:
        pytest.skip("needs mount namespaces (unshare --mount) to make a path one node lacks")
    recipe = cluster_recipe(
        tmp_path,
        """
        name: private-storage
        trainable: {kind: function, function: "toy_trainables:quadratic"}
        objective: {metric: loss, mode: min}
        search: {num_samples: 1, space: {x: {uniform: [0, 1]}}}
        """,
    )
    private = tmp_path / "private"
    private.mkdir()
    script = (
        f"mount -t tmpfs tunefw-private {private} && "
        f"exec tunefw run {recipe} --address {cluster.address} --storage {private}"
    )
    ran = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
        env=client, capture_output=True, text=True, timeout=300, cwd=REPO,
    )  # fmt: skip
    assert ran.returncode == 2, ran.stderr
    assert ran.stderr.count("\n") == 1
    assert f"storage: {private} is not shared with every node of the cluster" in ran.stderr


NODE_LOSS = """
name: {name}
trainable: {{kind: function, function: "toy_trainables:survives_node_loss"}}
objective: {{metric: loss, mode: min}}
search:
  strategy: grid
  space:
    x: {{grid: [0.1, 0.2, 0.3, 0.4]}}
    steps: 12
    step_s: 0.5
    marker_dir: "{markers}"
resources: {{cpu: 0.5, gpu: 0.5}}
scheduler: {{type: none}}
failure: {{max_retries: 3}}
"""


def node_loss_recipe(where: Path) -> Path:
    (where / "markers").mkdir(parents=True)
    shutil.copy(DATA / "toy_trainables.py", where)
    recipe = where / "recipe.yaml"
    body = NODE_LOSS.format(name=where.name, markers=where / "markers")
    recipe.write_text(body + f"storage: {where / 'results'}\n")
    return recipe


def progress(markers: Path) -> dict[str, tuple[str, int]]:
    """Each trial's x: the node it last reported from and its step."""
    found = {}
    for marker in markers.glob("[!.]*"):
        node, step = marker.read_text().split()
        found[marker.name] = (node, int(step))
    return found


def raylet_of(node: local.NodeProcess) -> int:
    for pid in processes.group_members(node.pid):
        try:
            if Path(f"/proc/{pid}/comm").read_text().strip() == "raylet":
                return pid
        except OSError:
            continue
    raise AssertionError(f"no raylet in {node.name}'s process group")


def best_of(where: Path) -> tuple[float, float]:
    best = min(final_rows(where / "results", where.name), key=lambda row: row["metric.loss"])
    return float(best["metric.loss"]), float(best["config.x"])


def test_trials_on_a_killed_worker_node_resume_elsewhere_and_nothing_is_lost(
    cluster, client, tmp_path
):
    recipe = node_loss_recipe(tmp_path / "disturbed")
    driver = subprocess.Popen(
        ["tunefw", "run", str(recipe), "--address", cluster.address],
        env=client, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
    )  # fmt: skip
    markers = tmp_path / "disturbed" / "markers"
    wait_until(
        lambda: len(seen := progress(markers)) == 4 and min(s for _, s in seen.values()) >= 3,
        timeout=240,
    )
    victim = next(node for node in cluster.nodes if node.name == "worker-1")
    victim_id = local.node_ids(cluster)[victim.name]
    doomed = [x for x, (node, _) in progress(markers).items() if node == victim_id]
    assert len(doomed) == 2, "two half-GPU trials run on the worker about to die"
    os.kill(raylet_of(victim), signal.SIGKILL)
    out, err = driver.communicate(timeout=400)
    assert driver.returncode == 0, err
    assert "4 trials (0 stopped early, 0 errored)" in out

    keys = stored_keys(experiment(tmp_path / "disturbed", "disturbed"))
    assert len(keys) == len(set(keys)) == 4 * 12, "every (trial, iteration) stored exactly once"
    finals = {str(row["config.x"]): row for row in final_rows(tmp_path / "disturbed" / "results",
                                                              "disturbed")}  # fmt: skip
    for x in doomed:
        assert finals[x][col.NODE_ID] != victim_id, "the trial finished on another node"
        assert int(finals[x]["metric.restored_from"]) >= 3, (
            "from its last checkpoint, not from step 0"
        )
    # The trainable's best, (x - 0.3)^2 + 1/step at x = 0.3 after 12 steps, as if undisturbed.
    assert best_of(tmp_path / "disturbed") == (1 / 12, 0.3)
