"""The ``optuna_journal`` logger: the study written into an Optuna journal as trials run, the
same trials ``tunefw export --to optuna-journal`` writes afterwards, each once; a journal that
fails warns once and the run goes on; ``optuna-dashboard`` shows the study growing live."""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import optuna
import pytest
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import FrozenTrial, TrialState
from playwright.sync_api import sync_playwright

from tunefw.cli.main import main
from tunefw.recipe.objective import Objective
from tunefw.recipe.space import Uniform
from tunefw.report.optuna_terms import TRIAL_ID_ATTR
from tunefw.running.loggers.optuna_journal import OptunaJournalCallback
from tunefw.store import columns as col
from tunefw.store.reader import final_rows, read_results

from .faults_helpers import experiment, function_recipe, start_driver, wait_until
from .test_report import CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.usefixtures("ray_session")

DASHBOARD = str(Path(sys.executable).with_name("optuna-dashboard"))


def curve_recipe(tmp_path: Path, name: str, extra: str = "") -> Path:
    return function_recipe(
        tmp_path,
        f"""
        name: {name}
        trainable: {{kind: function, function: "toy_trainables:curve"}}
        objective: {{metric: loss, mode: min, constraints: ["loss <= 0.2"]}}
        search:
          strategy: random
          num_samples: 12
          seed: 3
          space: {{x: {{uniform: [0, 1]}}, steps: 9}}
        scheduler: {{type: asha, max_t: 9, grace_period: 1, reduction_factor: 3}}
        loggers: [{{type: optuna_journal}}]
        {extra}
        """,
    )


def journal_trials(path: Path, study: str) -> dict[str, FrozenTrial]:
    """The study's trials in the journal, by tunefw trial id (asserting each is there once)."""
    trials = optuna.load_study(study_name=study, storage=journal(path)).get_trials()
    by_id = {t.user_attrs[TRIAL_ID_ATTR]: t for t in trials}
    assert len(by_id) == len(trials), "a stored trial is in the journal twice"
    return by_id


def journal(path: Path) -> JournalStorage:
    return JournalStorage(JournalFileBackend(str(path)))


def exported(tmp_path: Path, name: str) -> dict[str, FrozenTrial]:
    """What ``tunefw export --to optuna-journal`` writes for the stored experiment."""
    out = tmp_path / f"{name}-export.log"
    storage = str(tmp_path / "results")
    assert main(["export", name, "--to", "optuna-journal", "--storage", storage, str(out)]) == 0
    return journal_trials(out, name)


def same_trials(live: dict[str, FrozenTrial], export: dict[str, FrozenTrial]) -> None:
    assert live.keys() == export.keys()
    for trial_id, trial in live.items():
        expected = export[trial_id]
        assert trial.state == expected.state, trial_id
        assert trial.values == expected.values, trial_id
        assert trial.params == expected.params, trial_id
        assert trial.intermediate_values == expected.intermediate_values, trial_id
        assert trial.constraints == expected.constraints, trial_id
        assert trial.datetime_start is not None


def test_the_journal_holds_each_trial_as_export_writes_it(tmp_path):
    assert main(["run", str(curve_recipe(tmp_path, "live"))]) == 0
    path = tmp_path / "results" / "live" / "optuna-journal.log"  # the default: beside the store
    live = journal_trials(path, "live")
    same_trials(live, exported(tmp_path, "live"))
    states = [t.state for t in live.values()]
    assert len(live) == 12
    assert TrialState.PRUNED in states and TrialState.COMPLETE in states
    feasible = {t.constraints["loss <= 0.2"] <= 0 for t in live.values()}
    assert feasible == {True, False}, "the constraint holds for some trials, not all"
    study = optuna.load_study(study_name="live", storage=journal(path))
    assert study.direction == optuna.study.StudyDirection.MINIMIZE
    assert study.metric_names == ["loss"]


def test_in_lean_mode_each_config_is_a_trial_of_the_journal(tmp_path):
    path = tmp_path / "lean.journal"
    recipe = curve_recipe(tmp_path, "lean", "lean: {configs_per_trial: 4}")
    logger = f"loggers=[{{type: optuna_journal, path: '{path}', study_name: packed}}]"
    assert main(["run", str(recipe), "--set", logger]) == 0
    live = journal_trials(path, "packed")
    stored = final_rows(read_results(experiment(tmp_path, "lean")))
    assert sorted(live) == sorted(stored.column(col.TRIAL_ID).to_pylist())
    same_trials(live, exported(tmp_path, "lean"))


def test_a_journal_that_cannot_be_written_warns_once_and_the_run_goes_on(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.setattr(logging.getLogger(), "level", logging.ERROR)  # shown all the same
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the journal's folder would be")
    recipe = curve_recipe(tmp_path, "unlogged")
    logger = f"loggers=[{{type: optuna_journal, path: '{blocker}/j.log'}}]"
    assert main(["run", str(recipe), "--set", logger]) == 0
    err = capsys.readouterr().err
    assert "Traceback" not in err
    warnings = [line for line in err.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 1, err
    assert warnings[0].startswith(f"warning: loggers[0]: optuna journal {blocker}/j.log: ")
    finals = final_rows(read_results(experiment(tmp_path, "unlogged")))
    assert finals.num_rows == 12, "Parquet holds every trial"


def test_a_journal_for_remote_storage_needs_a_path_and_the_refusal_stores_nothing(
    tmp_path, capsys, s3_bucket
):
    recipe = curve_recipe(tmp_path, "remote")
    uri = f"s3://{s3_bucket}/runs"
    assert main(["run", str(recipe), "--storage", uri]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("error: loggers[0].path: give the journal file: the storage ")
    import boto3

    listing: Any = boto3.client("s3").list_objects_v2(Bucket=s3_bucket)
    assert listing.get("KeyCount", 0) == 0


def _callback(path: Path) -> OptunaJournalCallback:
    objective = Objective.model_validate({"metric": "loss", "mode": "min"})
    space = {"x": Uniform.model_validate({"uniform": [0.0, 1.0]})}
    return OptunaJournalCallback("loggers[0]", path, "study", space, objective, set())


def test_a_resumed_run_carries_on_the_journal_writing_each_trial_once(tmp_path):
    """A first driver ends one trial and dies during a second; the resumed run reruns the
    second and starts a third: three trials, the second ended once, by its rerun."""
    path = tmp_path / "j.log"
    first = _callback(path)
    first.setup()
    for trial_id, x in (("t1", 0.1), ("t2", 0.2)):
        first.trial_started(trial_id, {"x": x})
        first.trial_reported(trial_id, {"x": x}, {"loss": x, "training_iteration": 1})
    first.trial_ended("t1", {"x": 0.1}, col.TERMINATED, None)

    resumed = _callback(path)
    resumed.setup()
    for trial_id, x in (("t1", 0.1), ("t2", 0.2), ("t3", 0.3)):  # t1 replayed: ignored
        resumed.trial_started(trial_id, {"x": x})
        resumed.trial_reported(trial_id, {"x": x}, {"loss": x / 2, "training_iteration": 2})
        resumed.trial_ended(trial_id, {"x": x}, col.TERMINATED, None)

    trials = journal_trials(path, "study")
    assert sorted(trials) == ["t1", "t2", "t3"]
    assert trials["t1"].values == [0.1] and trials["t1"].intermediate_values == {1: 0.1}
    assert trials["t2"].values == [0.1] and trials["t2"].intermediate_values == {1: 0.2, 2: 0.1}
    assert trials["t3"].values == [0.15] and trials["t3"].number == 2


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _shown_trials(page: Any) -> int:
    """The trial count the dashboard's trial list shows ("N Trials")."""
    page.wait_for_selector("text=/^\\d+ Trials?$/", timeout=30_000)
    return int(page.locator("text=/^\\d+ Trials?$/").first.inner_text().split()[0])


def documented_loggers() -> str:
    """The ``loggers`` section docs/dashboard.md tells users to add."""
    page = (Path(__file__).parents[1] / "docs" / "dashboard.md").read_text()
    return page.split("```yaml\n", 1)[1].split("```", 1)[0]


@pytest.mark.browser
@pytest.mark.slow
def test_optuna_dashboard_shows_the_study_grow_while_the_run_goes_on(tmp_path):
    recipe = function_recipe(
        tmp_path,
        """
        name: watched
        trainable: {kind: function, function: "toy_trainables:steady"}
        objective: {metric: loss, mode: min}
        search: {num_samples: 6, seed: 1, max_concurrent: 1, space: {x: {uniform: [0, 1]}}}
        scheduler: {type: none}
        """,
    )
    recipe.write_text(recipe.read_text() + documented_loggers())
    path = tmp_path / "results" / "watched" / "optuna-journal.log"
    driver = start_driver(recipe, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    port = _free_port()
    dashboard: subprocess.Popen[bytes] | None = None
    try:
        wait_until(lambda: driver.poll() is not None or _has_trials(path, "watched"))
        assert driver.poll() is None, driver.communicate()[1]
        dashboard = subprocess.Popen(
            [DASHBOARD, str(path), "--host", "127.0.0.1", "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(lambda: _answers(port), timeout=30)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{port}/dashboard/studies/0/trials")
            first = _shown_trials(page)
            seen_while_running = [first]
            while driver.poll() is None and seen_while_running[-1] <= first:
                page.wait_for_timeout(1000)
                page.reload()
                shown = _shown_trials(page)
                if driver.poll() is None:  # read while the run still goes on
                    seen_while_running.append(shown)
            browser.close()
        assert seen_while_running[-1] > first >= 1, seen_while_running
        assert driver.wait(timeout=120) == 0, driver.communicate()[1]
    finally:
        if dashboard is not None:
            dashboard.terminate()
            dashboard.wait(timeout=10)
        if driver.poll() is None:
            driver.kill()
    assert len(journal_trials(path, "watched")) == 6


def _has_trials(path: Path, study: str) -> bool:
    if not path.exists():
        return False
    storage = journal(path)
    if study not in {s.study_name for s in storage.get_all_studies()}:
        return False
    return bool(storage.get_all_trials(storage.get_study_id_from_name(study)))


def _answers(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True
