"""Faults on real Ray: failing trials, retries, a killed worker, a full disk (a killed driver:
test_killed_driver)."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tunefw.cli.main import main
from tunefw.store import columns as col
from tunefw.store.manifest import load_manifest
from tunefw.store.reader import final_rows, read_results

from .faults_helpers import (
    experiment,
    function_recipe,
    has_parts,
    snapshot,
    stored_keys,
    wait_until,
)

pytestmark = pytest.mark.usefixtures("ray_session")


def flaky_recipe(tmp_path: Path, retries: int) -> Path:
    markers = tmp_path / "markers"
    markers.mkdir()
    return function_recipe(
        tmp_path,
        f"""
        name: flaky
        trainable: {{kind: function, function: "toy_trainables:fails_first_attempt"}}
        objective: {{metric: loss, mode: min}}
        search:
          num_samples: 9
          seed: 4
          space: {{x: {{uniform: [0, 1]}}, marker_dir: "{markers}"}}
        scheduler: {{type: none}}
        failure: {{max_retries: {retries}}}
        """,
    )


@pytest.mark.slow
def test_failing_trials_are_stored_with_their_traceback(tmp_path):
    assert main(["run", str(flaky_recipe(tmp_path, retries=0))]) == 0
    location = experiment(tmp_path, "flaky")
    finals = final_rows(read_results(location)).to_pylist()
    errored = [r for r in finals if r[col.STATUS] == col.ERRORED]
    assert len(finals) == 9
    assert 1 <= len(errored) < 9
    assert all("RuntimeError: transient failure" in r[col.ERROR] for r in errored)
    assert load_manifest(location)["status"] == "completed"


@pytest.mark.slow
def test_max_retries_reruns_failed_trials_and_rows_stay_unique(tmp_path):
    assert main(["run", str(flaky_recipe(tmp_path, retries=1))]) == 0
    location = experiment(tmp_path, "flaky")
    finals = final_rows(read_results(location)).to_pylist()
    assert len(finals) == 9
    assert {r[col.STATUS] for r in finals} == {col.TERMINATED}
    assert len(list((tmp_path / "markers").iterdir())) >= 1, "some trials did fail once"
    keys = stored_keys(location)
    assert len(keys) == len(set(keys)) == 18, "each (trial, iteration) exactly once"


def test_a_killed_worker_resumes_the_trial_from_its_checkpoint(tmp_path):
    markers = tmp_path / "markers"
    markers.mkdir()
    path = function_recipe(
        tmp_path,
        f"""
        name: killed-worker
        trainable: {{kind: function, function: "toy_trainables:checkpointed"}}
        objective: {{metric: loss, mode: min}}
        search: {{num_samples: 1, space: {{marker_dir: "{markers}"}}}}
        scheduler: {{type: none}}
        failure: {{max_retries: 2}}
        """,
    )

    def kill_first_worker() -> None:
        wait_until(lambda: list(markers.glob("pid-*")))
        time.sleep(1.2)  # a few steps and checkpoints in
        pid = int(next(markers.glob("pid-*")).name.removeprefix("pid-"))
        os.kill(pid, signal.SIGKILL)

    killer = threading.Thread(target=kill_first_worker)
    killer.start()
    assert main(["run", str(path)]) == 0
    killer.join()
    assert len(list(markers.glob("pid-*"))) == 2, "the trial ran in a second worker"
    restarted_at = int(sorted(markers.glob("pid-*"), key=os.path.getmtime)[-1].read_text())
    assert restarted_at >= 1, "the retry started from a checkpoint, not from scratch"
    location = experiment(tmp_path, "killed-worker")
    table = read_results(location)
    assert sorted(table[col.ITERATION].to_pylist()) == list(range(1, 21))
    assert final_rows(table)[col.STATUS].to_pylist() == [col.TERMINATED]
    assert True in table["metric.restored"].to_pylist()
    keys = stored_keys(location)
    assert len(keys) == len(set(keys)) == 20


@pytest.mark.slow
def test_a_refused_write_is_one_line_and_earlier_parts_stay_readable(tmp_path, capsys):
    path = function_recipe(
        tmp_path,
        """
        name: full-disk
        trainable: {kind: function, function: "toy_trainables:slow"}
        objective: {metric: loss, mode: min}
        search: {num_samples: 2, space: {x: {uniform: [0, 1]}}}
        scheduler: {type: none}
        """,
    )
    results = tmp_path / "results" / "full-disk" / "results"
    kept = tmp_path / "kept"

    def refuse_writes() -> None:
        wait_until(has_parts(results))
        results.rename(kept)
        results.write_text("a file where the results directory was")

    blocker = threading.Thread(target=refuse_writes)
    blocker.start()
    assert main(["run", str(path)]) == 2
    blocker.join()
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: storage: cannot write ")
    assert err[-1].endswith("Not a directory")
    assert load_manifest(experiment(tmp_path, "full-disk"))["status"] == "failed"
    parts = list(kept.glob("part-*.parquet"))
    assert parts and all(p.stat().st_size > 0 for p in parts)
    assert sum(pq.read_table(p).num_rows for p in parts) >= 1


def test_the_same_name_twice_is_refused_unless_resumed_or_overwritten(tmp_path, capsys):
    """``--resume`` continues the stored experiment, with more trials if asked, but never
    under a recipe whose trials would mean something else (another space, the other mode)."""
    path = function_recipe(
        tmp_path,
        """
        name: twice
        trainable: {kind: function, function: "toy_trainables:quadratic"}
        objective: {metric: loss, mode: min}
        search: {num_samples: 2, seed: 0, space: {x: {uniform: [0, 1]}}}
        """,
    )
    assert main(["run", str(path)]) == 0
    location = experiment(tmp_path, "twice")
    first = sorted(read_results(location)[col.TRIAL_ID].to_pylist())
    capsys.readouterr()
    assert main(["run", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "experiment 'twice' already exists" in err[0]
    assert sorted(read_results(location)[col.TRIAL_ID].to_pylist()) == first, "untouched"
    assert main(["run", str(path), "--resume"]) == 0
    assert sorted(read_results(location)[col.TRIAL_ID].to_pylist()) == first
    before = snapshot(tmp_path / "results")
    for override, field in (
        ("search.space.x={uniform: [5, 6]}", "search.space.x.uniform"),
        ("objective.mode=max", "objective.mode"),
    ):
        capsys.readouterr()
        assert main(["run", str(path), "--resume", "--set", override]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith(f"error: {field}: experiment twice ran with ")
        assert snapshot(tmp_path / "results") == before, "a refused resume changes nothing"
    assert main(["run", str(path), "--resume", "--overwrite"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "error: --resume and --overwrite exclude each other: one continues the stored "
        "experiment, the other deletes it; give one"
    ]
    assert snapshot(tmp_path / "results") == before, "neither continued nor deleted"
    assert main(["run", str(path), "--resume", "--set", "search.num_samples=3"]) == 0
    more = sorted(read_results(location)[col.TRIAL_ID].to_pylist())
    assert len(set(more)) == 3 and set(first) <= set(more), "one more trial, the two kept"
    assert load_manifest(location)["recipe"]["search"]["num_samples"] == 3, "what resume reads"
    assert main(["run", str(path), "--overwrite"]) == 0
    again = set(read_results(location)[col.TRIAL_ID].to_pylist())
    assert len(again) == 2 and again.isdisjoint(first), "a new experiment replaced the old"


@pytest.mark.parametrize(
    ("budget", "limit", "strategy"),
    [
        ("{wall_time_s: 4}", "wall_time_s", "random"),  # the first two start within it
        ("{cpu_hours: 0.0005}", "cpu_hours", "bayesian"),  # a Searcher, limited to 2 at a time
    ],
)
def test_a_spent_budget_starts_no_new_trial_and_lets_running_ones_finish(
    tmp_path, budget, limit, strategy
):
    path = function_recipe(
        tmp_path,
        f"""
        name: budgeted
        trainable: {{kind: function, function: "toy_trainables:steady"}}
        objective: {{metric: loss, mode: min}}
        search:
          strategy: {strategy}
          num_samples: 8
          max_concurrent: 2
          seed: 0
          space: {{x: {{uniform: [0, 1]}}}}
        scheduler: {{type: none}}
        resources: {{cpu: 0.5}}
        budget: {budget}
        """,
    )
    assert main(["run", str(path)]) == 0
    finals = final_rows(read_results(experiment(tmp_path, "budgeted"))).to_pylist()
    assert 2 <= len(finals) < 8, f"the {limit} budget ({budget}) stops new trials"
    assert {r[col.STATUS] for r in finals} == {col.TERMINATED}
    assert {r[col.ITERATION] for r in finals} == {10}, "running trials finish"
