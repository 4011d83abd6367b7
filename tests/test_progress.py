"""What ``tunefw run`` shows: the live view, plain log lines, ``--quiet`` and ``--json``."""

from __future__ import annotations

import io
import json
import re
import subprocess
import textwrap
import time
from pathlib import Path

import pytest
import ray
from ray.tune.experiment import Trial
from rich.console import Console

from tunefw.cli.main import main
from tunefw.plugin_api.imports import extend_sys_path, recipe_import_paths
from tunefw.prepare.prepared import prepare_recipe
from tunefw.recipe.loading import load_recipe
from tunefw.recipe.objective import Objective
from tunefw.running.progress.state import RunState
from tunefw.running.progress.view import ProgressView
from tunefw.running.runner import RunOptions, run_experiment
from tunefw.store import columns as col
from tunefw.store.layout import ExperimentLocation, Storage, find_experiment
from tunefw.store.ranking import best_trial
from tunefw.store.reader import final_rows, read_results

from .faults_helpers import function_recipe

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
LOSS = Objective(metric="loss", mode="min")
TINY = """
    name: tiny
    trainable: {kind: function, function: "toy_trainables:quadratic"}
    objective: {metric: loss, mode: min}
    search: {strategy: random, num_samples: 4, seed: 3, space: {x: {uniform: [0, 1]}}}
    scheduler: {type: none}
    """


def terminal() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=True, width=120), out


def trial(trial_id: str, x: float) -> Trial:
    return Trial("tunefw_trial", config={"x": x}, trial_id=trial_id, stub=True)


def test_run_state_counts_and_ranks_trials_as_best_does():
    state = RunState(5, Objective(metric="loss", mode="min", constraints=["size <= 1"]))
    for trial_id, loss, size in [("a", 0.5, 0), ("b", 0.2, 0), ("c", 0.1, 0), ("d", 0.05, 2)]:
        state.start(trial_id, {"x": loss})
        state.result(trial_id, {"x": loss}, {"loss": loss, "size": size, "training_iteration": 1})
    state.finish("a", col.TERMINATED, {})
    state.finish("b", col.STOPPED_EARLY, {})
    state.finish("b", col.TERMINATED, {})  # once only
    snap = state.snapshot(top=3)
    assert (snap.done, snap.running, snap.stopped_early, snap.errored) == (2, 2, 1, 0)
    # feasible first, then completed, then by score: a (terminated) beats c and b
    assert [t.trial_id for t in snap.top] == ["a", "c", "b"]
    assert snap.best is not None and snap.best.trial_id == "a"
    assert snap.eta_s is not None and snap.eta_s > 0
    state.finish("c", col.ERRORED, {})
    state.finish("d", col.TERMINATED, {})
    assert state.snapshot().top[-1].trial_id == "d", "infeasible trials rank last"


def test_hooks_only_update_state_and_the_view_redraws_a_few_times_a_second():
    console, out = terminal()
    view = ProgressView(3, LOSS, {"t2"}, console, title="running hooks")
    trials = [trial(f"t{i}", i / 10) for i in range(3)]
    view.setup(total_num_samples=3)
    started = time.monotonic()
    for t in trials:
        view.on_trial_start(0, trials, t)
    for step in range(1, 3001):
        for t in trials:
            loss = t.config["x"] + 1 / step
            view.on_trial_result(0, trials, t, {"loss": loss, "training_iteration": step})
    view.on_trial_complete(0, trials, trials[0])
    view.on_trial_complete(0, trials, trials[2])
    view.on_trial_error(0, trials, trials[1])
    elapsed = time.monotonic() - started
    view.on_experiment_end(trials)
    text = ANSI.sub("", out.getvalue())
    frames = text.count("running · ")
    assert 1 <= frames <= 4 * elapsed + 3, f"{frames} frames for 9000 results in {elapsed:.2f} s"
    final = text[text.rindex("trials ━") :]
    assert "3/3" in final
    assert "0 running · 1 stopped early · 1 errored" in final
    assert "best loss 0.0003 (x=0)" in final
    for header in ("trial", "status", "iter", "loss", "config"):
        assert header in final
    rows = [line.split() for line in final.splitlines() if re.match(r"\s*t\d ", line)]
    assert [row[:3] for row in rows] == [
        ["t0", "terminated", "3000"],
        ["t1", "errored", "3000"],
        ["t2", "stopped_early", "3000"],
    ]


def test_the_live_view_of_a_real_run(tmp_path, ray_session):
    path = function_recipe(tmp_path, TINY)
    recipe = load_recipe(path)
    location = ExperimentLocation(Storage.open(recipe.storage), recipe.name)
    console, out = terminal()
    stopped: set[str] = set()
    view = ProgressView(4, recipe.objective, stopped, console, title="running tiny")
    paths = recipe_import_paths(path)
    extend_sys_path(paths)
    options = RunOptions(callbacks=[view], import_paths=paths, stopped_early=stopped)
    summary = run_experiment(prepare_recipe(recipe), location, options)
    text = ANSI.sub("", out.getvalue())
    assert text.startswith("running tiny")
    final = text[text.rindex("trials ━") :]
    assert "4/4" in final
    assert "0 running · 0 stopped early · 0 errored" in final
    best = summary.best
    assert best is not None
    assert f"best loss {best.score:.4f} (x={best.config['x']:.4g})" in final
    rows = [line.split() for line in final.splitlines() if re.match(r"\s*\w+_\d{5} ", line)]
    stored = final_rows(read_results(location)).to_pylist()
    assert sorted(row[0] for row in rows) == sorted(r[col.TRIAL_ID] for r in stored)
    assert rows[0][:2] == [best.trial_id, "terminated"], "the best trial heads the table"


def test_plain_lines_when_the_output_is_no_terminal(tmp_path, capsys, ray_session):
    out = io.StringIO()
    view = ProgressView(2, LOSS, set(), Console(file=out, width=120), interval=0.0)
    trials = [trial("a", 0.2), trial("b", 0.7)]
    view.setup(total_num_samples=2)
    for t in trials:
        view.on_trial_start(0, trials, t)
        view.on_trial_result(0, trials, t, {"loss": t.config["x"], "training_iteration": 1})
        view.on_trial_complete(0, trials, t)
    view.on_experiment_end(trials)
    lines = out.getvalue().splitlines()
    assert "\x1b" not in out.getvalue()
    assert len(lines) == 7, "a line per hook at interval 0, and one at the end"
    assert lines[-1] == (
        "trials 2/2 done · 0 running · 0 stopped early · 0 errored · best loss 0.2000 (x=0.2)"
    )

    path = function_recipe(tmp_path, TINY)  # from the CLI: the title and one line at the end
    assert main(["run", str(path)]) == 0
    captured = capsys.readouterr()
    err, out_lines = captured.err.splitlines(), captured.out.splitlines()
    assert "\x1b" not in "".join(err + out_lines)
    assert err[0] == "running tiny"
    assert err[-1].startswith("trials 4/4 done · 0 running · 0 stopped early · 0 errored · best")
    assert out_lines[0].startswith("best loss ")


def test_quiet_prints_nothing_and_excludes_json(tmp_path, capsys, ray_session):
    path = function_recipe(tmp_path, TINY)
    assert main(["run", str(path), "--quiet"]) == 0
    captured = capsys.readouterr()
    assert captured.out == captured.err == ""
    location = find_experiment(Storage.open(str(tmp_path / "results")), "tiny")
    assert final_rows(read_results(location)).num_rows == 4
    for args in (["run", str(path)], ["resume", "tiny", "--storage", str(tmp_path / "results")]):
        assert main([*args, "--quiet", "--json"]) == 2
        err = capsys.readouterr().err.splitlines()
        assert err == ["error: --quiet and --json exclude each other: give one"]


@pytest.mark.slow
def test_json_events_on_stdout_and_nothing_else(tmp_path, ray_session):
    path = function_recipe(
        tmp_path,
        """
        name: events
        trainable: {kind: function, function: "chatty:fails_above_half"}
        objective: {metric: loss, mode: min}
        search: {num_samples: 6, seed: 1, space: {x: {uniform: [0, 1]}}}
        scheduler: {type: none}
        """,
    )
    (tmp_path / "chatty.py").write_text(
        textwrap.dedent(
            """
            def fails_above_half(config, ctx):
                print("a trial writing to stdout", flush=True)
                ctx.report({"loss": config["x"], "nan": float("nan")})
                if config["x"] > 0.5:
                    raise RuntimeError(f"diverged at x={config['x']:.3f}")
                ctx.report({"loss": config["x"] / 2, "nan": float("nan")})
            """
        )
    )
    address = ray.get_runtime_context().gcs_address
    driver = subprocess.Popen(
        ["tunefw", "run", str(path), "--json", "--address", address],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    out, err = driver.communicate(timeout=300)
    assert driver.returncode == 0, err
    events = [json.loads(line) for line in out.splitlines()]  # every line is JSON
    kinds = [e["event"] for e in events]
    assert kinds[-1] == "run_finished" and kinds.count("run_finished") == 1
    assert set(kinds) == {"trial_started", "trial_result", "trial_completed", "run_finished"}

    location = find_experiment(Storage.open(str(tmp_path / "results")), "events")
    table = read_results(location)
    finals = {r[col.TRIAL_ID]: r for r in final_rows(table).to_pylist()}
    started = [e["trial_id"] for e in events if e["event"] == "trial_started"]
    assert sorted(started) == sorted(finals)
    results = [e for e in events if e["event"] == "trial_result"]
    assert len(results) == table.num_rows
    assert all(e["metrics"]["nan"] is None for e in results), "NaN is written as null"
    completed = {e["trial_id"]: e for e in events if e["event"] == "trial_completed"}
    assert {t: e["status"] for t, e in completed.items()} == {
        t: r[col.STATUS] for t, r in finals.items()
    }
    errored = [e for e in completed.values() if e["status"] == col.ERRORED]
    assert errored and all("RuntimeError: diverged at x=" in e["error"] for e in errored)

    finished = events[-1]
    recipe = load_recipe(path)
    best = best_trial(table, recipe.objective)
    assert best is not None
    assert finished["experiment"] == "events" and finished["status"] == "completed"
    assert finished["trials"] == 6 and finished["errored"] == len(errored)
    assert finished["rows"] == table.num_rows
    assert finished["best"]["trial_id"] == best.trial_id
    assert finished["best"]["score"] == pytest.approx(best.score)
    assert finished["best"]["config"] == pytest.approx(best.config)
    assert finished["path"] == f"{location.storage.display}/events"


def test_resume_with_json_ends_with_run_finished(tmp_path, capsys, ray_session):
    path = function_recipe(tmp_path, TINY)
    assert main(["run", str(path), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["resume", "tiny", "--storage", str(tmp_path / "results"), "--json"]) == 0
    lines = capsys.readouterr().out.splitlines()
    finished = json.loads(lines[-1])
    assert finished["event"] == "run_finished"
    assert finished["trials"] == 4 and finished["status"] == "completed"
    assert all(json.loads(line)["experiment"] == "tiny" for line in lines)
    assert Path(finished["path"]).name == "tiny"
