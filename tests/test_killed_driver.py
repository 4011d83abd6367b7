"""A driver killed at any moment is resumed from the store, whole: every planned trial once.

No test waits for a safe moment to kill: the kill lands wherever a seeded random delay puts
it (before Ray is up, between Ray's state writes, during a flush...). ``TUNEFW_KILL_ROUNDS``
sets the rounds per search (20 for the soak the issue asks for); the seed of each round is
in the test id, so a failing moment can be replayed.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
from collections import Counter
from pathlib import Path

import pytest
import ray

from tunefw.cli.main import main
from tunefw.store import columns as col
from tunefw.store.layout import ExperimentLocation, Storage, find_experiment
from tunefw.store.manifest import load_manifest
from tunefw.store.reader import final_rows, read_results

from .faults_helpers import (
    experiment,
    function_recipe,
    results_seen,
    start_driver,
    stored_keys,
    wait_until,
)

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("ray_session")]

ROUNDS = int(os.environ.get("TUNEFW_KILL_ROUNDS", "1"))
TRIALS, STEPS = 6, 10
SEARCHES = {  # strategy and its params
    "random": ("random", "{}"),
    "auto": ("auto", "{n_startup_trials: 3}"),  # Optuna-backed: taught the stored trials
    "lean": ("random", "{}"),
}


def killable_recipe(tmp_path: Path, search: str, storage: str | None = None) -> Path:
    lean = "lean: {configs_per_trial: 2}\n" if search == "lean" else ""
    path = function_recipe(
        tmp_path,
        f"""
        name: killed
        trainable: {{kind: function, function: "toy_trainables:steady"}}
        objective: {{metric: loss, mode: min}}
        search:
          strategy: {SEARCHES[search][0]}
          params: {SEARCHES[search][1]}
          num_samples: {TRIALS}
          max_concurrent: 2
          seed: 7
          space: {{x: {{uniform: [0, 1]}}}}
        scheduler: {{type: none}}
        resources: {{cpu: 0.5}}
        """
        + lean,
    )
    if storage:
        path.write_text(path.read_text().replace(f"storage: {tmp_path / 'results'}", ""))
        path.write_text(path.read_text() + f"storage: {storage}\n")
    return path


def kill_after(recipe: Path, seconds: float, sig: int = signal.SIGKILL) -> int:
    """Start ``tunefw run``, send it ``sig`` after ``seconds`` wherever it is then; its exit
    code."""
    driver = start_driver(recipe, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        return driver.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        driver.send_signal(sig)
        return driver.wait(timeout=60)


def signal_once_reported(driver: subprocess.Popen[str], sig: int = signal.SIGKILL) -> int:
    """Send ``driver`` (a ``tunefw run`` or ``resume`` given ``--json``, its stdout a text
    pipe) ``sig`` once it has reported a trial's result; its exit code."""
    wait_until(results_seen(driver, 1))
    driver.send_signal(sig)
    driver.communicate(timeout=60)
    return driver.returncode


def json_driver(recipe: Path) -> subprocess.Popen[str]:
    """``tunefw run RECIPE --json`` against the session's Ray, its events on a pipe."""
    return start_driver(
        recipe, "--json", stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )


def assert_whole(tmp_path: Path) -> None:
    """Every planned trial stored once, finished, each iteration exactly once."""
    location = experiment(tmp_path, "killed")
    assert load_manifest(location)["status"] == "completed"
    table = read_results(location)
    finals = final_rows(table).to_pylist()
    assert len(finals) == TRIALS, f"{len(finals)} trials stored"
    assert Counter(r[col.STATUS] for r in finals) == {col.TERMINATED: TRIALS}
    assert len({r["config.x"] for r in finals}) == TRIALS, "no config ran twice as two trials"
    keys = stored_keys(location)
    assert len(keys) == len(set(keys)) == TRIALS * STEPS, "each iteration exactly once"


def resume(tmp_path: Path, capsys: pytest.CaptureFixture[str], storage: str | None = None) -> None:
    rc = main(["resume", "killed", "--storage", storage or str(tmp_path / "results")])
    assert rc == 0, capsys.readouterr().err


def moments(search: str) -> list[float]:
    rng = random.Random(f"{search}-kill")
    return [round(rng.uniform(0.5, 11.0), 2) for _ in range(ROUNDS)]


@pytest.mark.parametrize(
    ("search", "delay"),
    [(s, d) for s in SEARCHES for d in moments(s)],
    ids=lambda v: str(v),
)
def test_a_driver_killed_at_a_random_moment_resumes_whole(tmp_path, capsys, search, delay):
    recipe = killable_recipe(tmp_path, search)
    kill_after(recipe, delay)
    if not (tmp_path / "results" / "killed" / "manifest.json").exists():
        # Killed before it stored anything: the experiment does not exist; run it afresh.
        assert main(["run", str(recipe)]) == 0, capsys.readouterr().err
    else:
        resume(tmp_path, capsys)
    assert_whole(tmp_path)


def test_a_resume_killed_too_is_resumed_whole(tmp_path, capsys):
    """The run is killed once it has reported a result, its resume likewise, and a second
    resume completes it."""
    signal_once_reported(json_driver(killable_recipe(tmp_path, "auto")))
    storage = str(tmp_path / "results")
    resumer = ["tunefw", "resume", "killed", "--storage", storage, "--address", _address()]
    signal_once_reported(
        subprocess.Popen(
            [*resumer, "--json"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
    )
    resume(tmp_path, capsys)
    assert len(load_manifest(experiment(tmp_path, "killed"))["resumed_at"]) == 2
    assert_whole(tmp_path)


def test_sigint_then_resume(tmp_path, capsys):
    driver = json_driver(killable_recipe(tmp_path, "random"))
    assert signal_once_reported(driver, signal.SIGINT) == 130
    assert load_manifest(experiment(tmp_path, "killed"))["status"] == "interrupted"
    resume(tmp_path, capsys)
    assert_whole(tmp_path)


@pytest.mark.parametrize("damage", ["spliced", "removed"])
def test_ray_state_torn_or_from_another_moment_does_not_matter(tmp_path, capsys, damage):
    """Ray's two state files from different moments (an older searcher state beside a newer
    experiment state, and the other way round), or gone: resume reads the store, not them
    (a state cut short is the same case as a missing one, and not run: CI time). The copies
    are taken when Ray has written its state, and the second once it has changed."""
    recipe = killable_recipe(tmp_path, "auto")
    ray_dir = tmp_path / "results" / "killed" / "ray"
    snapshots = tmp_path / "snapshots"
    driver = start_driver(  # Ray writes its state every second, not every 10 s
        recipe,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=os.environ | {"TUNE_GLOBAL_CHECKPOINT_S": "1"},
    )
    seen: list[str] = []
    for moment in ("earlier", "later"):  # Ray's state at two moments it wrote, not the same
        wait_until(lambda: _new_ray_state(ray_dir, seen) or driver.poll() is not None)
        assert driver.poll() is None, "the run ended before Ray wrote its state twice"
        shutil.copytree(ray_dir, snapshots / moment, ignore=_trial_dirs, dirs_exist_ok=True)
    driver.send_signal(signal.SIGKILL)
    driver.wait(timeout=60)
    if damage == "spliced":
        for old, new in (("earlier", "later"), ("later", "earlier")):
            for searcher in (snapshots / old).glob("search*"):
                shutil.copy(searcher, ray_dir / searcher.name)
            for state in (snapshots / new).glob("experiment_state-*.json"):
                shutil.copy(state, ray_dir / state.name)
    else:
        shutil.rmtree(ray_dir)
    resume(tmp_path, capsys)
    assert_whole(tmp_path)


def test_a_killed_run_on_s3_resumes_whole(tmp_path, capsys, s3_bucket):
    storage = f"s3://{s3_bucket}/runs"
    signal_once_reported(json_driver(killable_recipe(tmp_path, "random", storage)))
    resume(tmp_path, capsys, storage)
    location = experiment_on(storage)
    finals = final_rows(read_results(location)).to_pylist()
    assert len(finals) == TRIALS
    assert {r[col.STATUS] for r in finals} == {col.TERMINATED}
    assert load_manifest(location)["status"] == "completed"


def experiment_on(storage: str) -> ExperimentLocation:
    return find_experiment(Storage.open(storage), "killed")


def _new_ray_state(ray_dir: Path, seen: list[str]) -> bool:
    """Whether Ray's experiment state is there and differs from every one in ``seen`` (then
    it joins them)."""
    states = sorted(ray_dir.glob("experiment_state-*.json"))
    try:
        text = states[-1].read_text() if states else ""
    except FileNotFoundError:  # Ray replaced it between the glob and the read
        return False
    if not text or text in seen:
        return False
    seen.append(text)
    return True


def _trial_dirs(directory: str, names: list[str]) -> list[str]:
    return [n for n in names if os.path.isdir(os.path.join(directory, n))]


def _address() -> str:
    return str(ray.get_runtime_context().gcs_address)
