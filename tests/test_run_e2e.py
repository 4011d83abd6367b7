"""End to end on the session's real Ray: recipe in, Parquet out, read back by the CLI."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import ray
import yaml
from ray import tune

from tunefw.cli.main import main
from tunefw.plugin_api.imports import extend_sys_path, recipe_import_paths
from tunefw.prepare.prepared import prepare_recipe
from tunefw.recipe.loading import load_recipe
from tunefw.running.runner import RunOptions, run_experiment
from tunefw.store import columns as col
from tunefw.store.layout import ExperimentLocation, Storage, find_experiment, read_json
from tunefw.store.reader import final_rows, read_results

from .conftest import REPO
from .faults_helpers import function_recipe, results_seen, start_driver, wait_until

pytestmark = pytest.mark.usefixtures("ray_session")


def results_of(storage: Path, name: str) -> pa.Table:
    return read_results(find_experiment(Storage.open(str(storage)), name))


@pytest.mark.slow
def test_quickstart(tmp_path, capsys):
    storage = tmp_path / "results"
    assert main(["run", str(REPO / "recipes" / "quickstart.yaml"), "--storage", str(storage)]) == 0
    out = capsys.readouterr().out
    best = float(re.search(r"best accuracy (\d\.\d+)", out).group(1))
    assert best >= 0.97

    table = results_of(storage, "quickstart")
    finals = final_rows(table).to_pylist()
    assert len(finals) == 24
    statuses = {r[col.STATUS] for r in finals}
    assert statuses <= {col.TERMINATED, col.STOPPED_EARLY}
    assert col.STOPPED_EARLY in statuses, "ASHA stops weak configs after their first folds"
    for row in finals:
        folds = row[col.ITERATION]
        assert (folds == 5) == (row[col.STATUS] == col.TERMINATED)
    per_trial: dict[str, list[int]] = {}
    for row in table.select([col.TRIAL_ID, col.ITERATION]).to_pylist():
        per_trial.setdefault(row[col.TRIAL_ID], []).append(row[col.ITERATION])
    for iterations in per_trial.values():
        assert sorted(iterations) == list(range(1, len(iterations) + 1)), "every report, once"
    assert table.schema.field("config.C").type == pa.float64()
    assert table.schema.field("config.kernel").type == pa.string()
    assert table.schema.field("metric.accuracy").type == pa.float64()

    ray_dir = storage / "quickstart" / "ray"
    written = {p.name for p in ray_dir.rglob("*") if p.is_file()}
    assert not written & {"result.json", "progress.csv", "params.json"}, "Parquet is the record"

    assert main(["results", "quickstart", "--storage", str(storage), "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert len(listed) == 24
    assert listed[0]["metric.accuracy"] == pytest.approx(best, abs=1e-4)

    export = tmp_path / "best.yaml"
    args = ["best", "quickstart", "--storage", str(storage), "--export", str(export)]
    assert main(args) == 0
    exported = yaml.safe_load(export.read_text())
    assert exported["name"] == "quickstart-best"
    assert set(exported["search"]["space"]) == {"C", "gamma", "kernel"}
    capsys.readouterr()
    assert main(["run", str(export)]) == 0, "the exported recipe reruns the best trial"
    rerun = float(re.search(r"best accuracy (\d\.\d+)", capsys.readouterr().out).group(1))
    assert rerun == pytest.approx(best, abs=1e-4)
    assert final_rows(results_of(storage, "quickstart-best")).num_rows == 1


def test_every_reported_result_is_one_row(tmp_path):
    """Counted by a second callback on the same run: Parquet holds exactly what was reported."""

    class Count(tune.Callback):
        reported = 0

        def on_trial_result(self, iteration, trials, trial, result, **info):
            Count.reported += 1

    path = function_recipe(
        tmp_path,
        """
        name: count
        trainable: {kind: function, function: "toy_trainables:quadratic"}
        objective: {metric: loss, mode: min}
        search: {num_samples: 5, seed: 3, space: {x: {uniform: [0, 1]}}}
        scheduler: {type: none}
        """,
    )
    recipe = load_recipe(path)
    extend_sys_path(recipe_import_paths(path))
    location = ExperimentLocation(Storage.open(recipe.storage), recipe.name)
    summary = run_experiment(
        prepare_recipe(recipe),
        location,
        RunOptions(callbacks=[Count()], import_paths=recipe_import_paths(path)),
    )
    table = read_results(location)
    assert Count.reported == table.num_rows == 15 == summary.rows
    assert set(table[col.NODE_ID].to_pylist()) == {ray.get_runtime_context().get_node_id()}
    assert set(table[col.GPU_IDS].to_pylist()) == {""}, "no GPU on this machine"
    for row in table.to_pylist():  # resources: cpu 1, gpu 0 by default
        assert row[col.CPU_SECONDS] == pytest.approx(row[col.TRIAL_TIME])
        assert row[col.GPU_SECONDS] == 0.0
    assert summary.trials == 5 and summary.errored == 0 and summary.stopped_early == 0
    best = min(final_rows(table).to_pylist(), key=lambda r: r["metric.loss"])
    assert summary.best is not None and summary.best.config["x"] == best["config.x"]
    manifest = read_json(location.storage, location.manifest_path)
    assert manifest["status"] == "completed"
    assert manifest["recipe"]["search"]["space"]["x"] == {"uniform": [0.0, 1.0]}
    assert manifest["versions"]["plugins"]["trainable:function"].startswith("tunefw ")


@pytest.mark.slow
def test_a_raising_trainable_errors_its_trial_and_the_run_goes_on(tmp_path, capsys):
    path = function_recipe(
        tmp_path,
        """
        name: flaky
        trainable: {kind: function, function: "toy_trainables:fails_above", metrics: [loss]}
        objective: {metric: loss, mode: min}
        search: {num_samples: 8, seed: 0, space: {x: {uniform: [0, 1]}}}
        scheduler: {type: none}
        """,
    )
    assert main(["run", str(path)]) == 0
    out = capsys.readouterr().out
    table = results_of(tmp_path / "results", "flaky")
    finals = final_rows(table).to_pylist()
    errored = [r for r in finals if r[col.STATUS] == col.ERRORED]
    fine = [r for r in finals if r[col.STATUS] == col.TERMINATED]
    assert len(errored) + len(fine) == 8
    assert errored and fine
    for row in errored:
        assert row["config.x"] > 0.5
        assert "RuntimeError: diverged at x=" in row[col.ERROR]
        assert "in fails_above" in row[col.ERROR], "the traceback is stored"
        assert "\x1b[" not in row[col.ERROR]
        assert row[col.ITERATION] == 1, "the report before the crash is kept"
    assert f"{len(errored)} errored" in out


def test_a_metric_never_reported_stops_the_run_with_one_line(tmp_path, capsys):
    path = function_recipe(
        tmp_path,
        """
        name: wrong-metric
        trainable: {kind: function, function: "toy_trainables:reports_wrong_metric"}
        objective: {metric: loss, mode: min}
        search: {num_samples: 20, max_concurrent: 1, space: {x: {uniform: [0, 1]}}}
        """,
    )
    assert main(["run", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == (
        "error: objective.metric: the trainable never reports 'loss' (it reported: acc)"
    )
    location = find_experiment(Storage.open(str(tmp_path / "results")), "wrong-metric")
    assert read_json(location.storage, location.manifest_path)["status"] == "failed"
    finals = final_rows(read_results(location)).to_pylist()
    assert 1 <= len(finals) < 20, "the run stops instead of failing every trial"
    assert all(r[col.STATUS] == col.ERRORED for r in finals)


def test_grid_search_with_a_function_returning_metrics(tmp_path, capsys):
    path = function_recipe(
        tmp_path,
        """
        name: grid
        trainable: {kind: function, function: "toy_trainables:returns_metrics"}
        objective: {metric: score, mode: max}
        search:
          strategy: grid
          space: {a: {grid: [1, 2]}, b: {choice: [0.1, 0.2]}}
        """,
    )
    assert main(["run", str(path)]) == 0
    finals = final_rows(results_of(tmp_path / "results", "grid")).to_pylist()
    combos = sorted((r["config.a"], r["config.b"]) for r in finals)
    assert combos == [(1, 0.1), (1, 0.2), (2, 0.1), (2, 0.2)]
    assert main(["best", "grid", "--storage", str(tmp_path / "results")]) == 0
    assert "best score 20.2000" in capsys.readouterr().out


def test_sklearn_with_l2_and_holdout(tmp_path, capsys):
    path = tmp_path / "ridge.yaml"
    path.write_text(
        textwrap.dedent(
            f"""
            name: ridge
            trainable: {{kind: sklearn, estimator: sklearn.linear_model.Ridge}}
            data: {{loader: "sklearn.datasets:load_diabetes"}}
            objective: {{metric: r2, mode: max}}
            search: {{num_samples: 4, seed: 1, space: {{fit_intercept: true}}}}
            validation: {{strategy: holdout, fraction: 0.3}}
            regularization: [{{name: l2, range: [1.0e-3, 100.0]}}]
            storage: {tmp_path / "results"}
            """
        )
    )
    assert main(["run", str(path)]) == 0
    capsys.readouterr()
    finals = final_rows(results_of(tmp_path / "results", "ridge")).to_pylist()
    assert len(finals) == 4
    scores = {round(r["metric.r2"], 6) for r in finals}
    assert len(scores) == 4, "each trial's l2 coefficient reached the estimator"
    assert all(1e-3 <= r["config.l2"] <= 100 for r in finals)
    assert (
        main(["results", "ridge", "--storage", str(tmp_path / "results"), "--format", "csv"]) == 0
    )
    header = capsys.readouterr().out.splitlines()[0]
    assert '"config.l2"' in header and '"metric.r2"' in header


def _descendants(root: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            children.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry))
    found, todo = set(), [root]
    while todo:
        pid = todo.pop()
        found.add(pid)
        todo += children.get(pid, [])
    return found


def test_embedded_ray_listens_on_loopback_only():
    ours = _descendants(os.getpid())
    listing = subprocess.run(["ss", "-ltnuH", "-p"], capture_output=True, text=True, check=True)
    addresses: list[Any] = []
    for line in listing.stdout.splitlines():
        pids = {int(p) for p in re.findall(r"pid=(\d+)", line)}
        if pids & ours:
            addresses.append(line.split()[4].rsplit(":", 1)[0])
    assert addresses, "Ray's processes listen somewhere"
    assert set(addresses) <= {"127.0.0.1", "[::ffff:127.0.0.1]", "[::1]"}


@pytest.mark.parametrize(
    ("address", "message"),
    [("127.0.0.1:{port}", "nothing answers there"), ("no-port", "expected HOST:PORT")],
)
def test_an_address_where_no_ray_listens_fails_at_once_and_stores_nothing(
    tmp_path, capsys, address, message
):
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    path = function_recipe(
        tmp_path,
        """
        name: nowhere
        trainable: {kind: function, function: "toy_trainables:quadratic"}
        objective: {metric: loss, mode: min}
        search: {num_samples: 1, space: {x: {uniform: [0, 1]}}}
        """,
    )
    assert main(["run", str(path), "--address", address.format(port=port)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
    assert not (tmp_path / "results").exists(), "nothing stored for a run that never started"


def test_address_connects_to_a_running_cluster(tmp_path):
    """``--address`` joins an existing Ray (here the session's own) instead of embedding one."""
    path = function_recipe(
        tmp_path,
        """
        name: remote
        trainable: {kind: function, function: "toy_trainables:quadratic"}
        objective: {metric: loss, mode: min}
        search: {num_samples: 2, space: {x: {uniform: [0, 1]}}}
        """,
    )
    out, err = start_driver(
        path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ).communicate(timeout=300)
    assert "2 trials" in out, err
    assert final_rows(results_of(tmp_path / "results", "remote")).num_rows == 2


@pytest.mark.slow
def test_an_interrupted_run_keeps_whole_parts_and_says_so(tmp_path):
    """SIGINT to the driver once it has reported results: Ray Tune stops the trials, and
    every row reported so far is written."""
    import signal

    path = function_recipe(
        tmp_path,
        """
        name: stopped
        trainable: {kind: function, function: "toy_trainables:slow"}
        objective: {metric: loss, mode: min}
        search: {num_samples: 4, max_concurrent: 2, space: {x: {uniform: [0, 1]}}}
        scheduler: {type: none}
        resources: {cpu: 0.5}
        """,
    )
    driver = start_driver(path, "--json", stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_until(results_seen(driver, 2))
    driver.send_signal(signal.SIGINT)
    out, err = driver.communicate(timeout=120)
    assert driver.returncode == 130, err
    assert "interrupted" in out + err
    location = find_experiment(Storage.open(str(tmp_path / "results")), "stopped")
    assert read_json(location.storage, location.manifest_path)["status"] == "interrupted"
    table = read_results(location)
    assert table.num_rows >= 2
    finals = final_rows(table).to_pylist()
    assert {r[col.STATUS] for r in finals} <= {col.RUNNING, col.TERMINATED}
    assert not [p for p in os.listdir(location.results_dir) if p.startswith(".")]


def test_memory_is_requested_and_cluster_only_resources_need_a_cluster(tmp_path, capsys):
    path = function_recipe(
        tmp_path,
        """
        name: sized
        trainable: {kind: function, function: "toy_trainables:returns_metrics"}
        objective: {metric: score, mode: max}
        search: {num_samples: 2, seed: 0, space: {a: {uniform: [0, 1]}, b: 1.0}}
        scheduler: {type: none}
        resources: {cpu: 0.5, memory: 64MiB}
        """,
    )
    assert main(["run", str(path)]) == 0
    assert len(final_rows(results_of(tmp_path / "results", "sized"))) == 2
    capsys.readouterr()
    override = "resources={cpu: 0.5, custom: {tpu_slice: 1}}"
    assert main(["run", str(path), "--set", override, "--name", "custom"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "error: resources.custom.tpu_slice: the embedded local Ray declares no such resource, "
        "so no trial could start; run on a cluster that does, with --address"
    ]
