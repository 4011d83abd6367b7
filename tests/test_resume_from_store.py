"""Resume planned from the store: reruns keep their trial's id, the searcher learns the stored
trials, ASHA's rungs start from the stored results, checkpoints are picked up."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from ray.tune.search import Searcher

from tunefw.cli.main import main
from tunefw.prepare.config_sources import VariantSource
from tunefw.prepare.prepared import prepare_recipe
from tunefw.prepare.rung_replay import replay_results
from tunefw.prepare.schedulers import build_scheduler
from tunefw.recipe.loading import load_recipe
from tunefw.recipe.objective import Objective
from tunefw.recipe.scheduler_sections import Asha
from tunefw.running.replay import replay_plan
from tunefw.running.rerun import RERUN_OF, split_rerun
from tunefw.store import columns as col
from tunefw.store.history import History, StoredTrial
from tunefw.store.reader import final_rows, read_results

from .faults_helpers import experiment, function_recipe, start_driver, wait_until


@pytest.fixture(autouse=True)
def _toy_module_importable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))


def _recipe(tmp_path: Path, strategy: str, trials: int = 6) -> Path:
    return function_recipe(
        tmp_path,
        f"""
        name: replayed
        trainable: {{kind: function, function: "toy_trainables:quadratic"}}
        objective: {{metric: loss, mode: min}}
        search:
          strategy: {strategy}
          num_samples: {trials}
          seed: 3
          space: {{x: {{uniform: [0, 1]}}}}
        scheduler: {{type: none}}
        """,
    )


def _stored(trial_id: str, x: float, status: str, loss: float | None = 0.5) -> StoredTrial:
    if loss is None:  # ended before its first report
        return StoredTrial(trial_id, {"x": x}, [{}], [0], status)
    return StoredTrial(trial_id, {"x": x}, [{"loss": loss}], [1], status)


def _suggest_all(searcher: Searcher) -> list[dict[str, Any]]:
    """Every config the searcher hands out, each trial ending as soon as it is suggested."""
    configs = []
    for i in range(100):
        config = searcher.suggest(f"new-{i}")
        if config is None or config == Searcher.FINISHED:
            break
        configs.append(config)
        searcher.on_trial_complete(f"new-{i}", {"loss": 0.1, "training_iteration": 1})
    return configs


def test_a_random_search_reruns_the_unfinished_and_skips_what_is_stored(tmp_path):
    prepared = prepare_recipe(load_recipe(_recipe(tmp_path, "random")))
    stream = VariantSource(prepared.plan.param_space, 6, seed=3).configs
    history = History(
        [
            _stored("a", stream[0]["x"], col.TERMINATED),
            _stored("b", stream[1]["x"], col.RUNNING),
            _stored("c", stream[2]["x"], col.ERRORED, loss=None),
        ]
    )
    plan = replay_plan(prepared, history, restart_errored=False)
    configs = _suggest_all(plan.search_alg)
    assert plan.num_samples == 4 == len(configs)
    assert configs[0] == {"x": stream[1]["x"], RERUN_OF: "b"}, "the unfinished trial, first"
    assert [c["x"] for c in configs[1:]] == [c["x"] for c in stream[3:]], "then the rest"


def test_restart_errored_reruns_the_errored_under_their_ids(tmp_path):
    prepared = prepare_recipe(load_recipe(_recipe(tmp_path, "random", trials=2)))
    stream = VariantSource(prepared.plan.param_space, 2, seed=3).configs
    history = History(
        [
            _stored("a", stream[0]["x"], col.TERMINATED),
            _stored("c", stream[1]["x"], col.ERRORED, loss=None),
        ]
    )
    configs = _suggest_all(replay_plan(prepared, history, restart_errored=True).search_alg)
    assert [split_rerun(c).rerun_of for c in configs] == ["c"]
    assert replay_plan(prepared, history, restart_errored=False).num_samples == 0


def test_a_model_based_searcher_learns_the_stored_trials_and_the_reruns(tmp_path):
    prepared = prepare_recipe(load_recipe(_recipe(tmp_path, "bayesian")))
    history = History(
        [
            _stored("a", 0.1, col.TERMINATED, loss=0.9),
            _stored("b", 0.2, col.STOPPED_EARLY, loss=0.8),
            _stored("c", 0.3, col.RUNNING, loss=0.7),
        ]
    )
    plan = replay_plan(prepared, history, restart_errored=False)
    configs = _suggest_all(plan.search_alg)
    assert len(configs) == plan.num_samples == 4
    assert configs[0][RERUN_OF] == "c"
    study = plan.search_alg.source.base.searcher._ot_study
    learned = [t.params["x"] for t in study.trials if t.state.is_finished()]
    assert learned[:2] == [0.1, 0.2], "the stored trials, in order"
    assert 0.3 in learned, "and the rerun, once it ended"
    assert len(learned) == 2 + 4


def _objective(mode: str) -> Objective:
    return Objective(metric="loss", mode=mode)


def test_asha_rungs_start_from_the_stored_results():
    asha = build_scheduler(
        Asha(max_t=9, grace_period=1, reduction_factor=3), set(), {}, _objective("min")
    )
    trials = [
        StoredTrial(f"t{i}", {}, [{"loss": i + s} for s in range(3)], [1, 2, 3], col.TERMINATED)
        for i in range(4)
    ]
    unfinished = StoredTrial("u", {}, [{"loss": 0.0}], [1], col.RUNNING)
    asha.replayed = [*trials, unfinished]
    assert asha.set_search_properties("loss", "min")
    first_rung = dict(asha._brackets[0]._rungs[-1][1])
    assert set(first_rung) == {"t0", "t1", "t2", "t3"}, "finished trials only"
    assert first_rung["t2"] == -2.0, "recorded as ASHA records a result for mode min"


def test_replay_stops_feeding_a_trial_once_asha_stopped_it():
    asha = build_scheduler(
        Asha(max_t=9, grace_period=1, reduction_factor=3), set(), {}, _objective("max")
    )
    asha.set_search_properties("loss", "max")
    good = [
        StoredTrial(f"g{i}", {}, [{"loss": 10.0}] * 3, [1, 2, 3], col.TERMINATED) for i in range(3)
    ]
    bad = StoredTrial("bad", {}, [{"loss": 0.0}] * 3, [1, 2, 3], col.STOPPED_EARLY)
    replay_results(asha, [*good, bad], "loss")
    recorded = {milestone: set(rung) for milestone, rung in asha._brackets[0]._rungs}
    assert "bad" in recorded[1.0] and "bad" not in recorded[3.0]


@pytest.mark.slow
@pytest.mark.usefixtures("ray_session")
def test_an_unfinished_trial_reruns_from_its_stored_checkpoint(tmp_path, capsys):
    markers = tmp_path / "markers"
    markers.mkdir()
    path = function_recipe(
        tmp_path,
        f"""
        name: checkpointed
        trainable: {{kind: function, function: "toy_trainables:checkpointed"}}
        objective: {{metric: loss, mode: min}}
        search: {{num_samples: 1, space: {{marker_dir: "{markers}"}}}}
        scheduler: {{type: none}}
        """,
    )
    driver = start_driver(path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_until(lambda: list(markers.glob("pid-*")))
    time.sleep(2.0)  # some steps in, each checkpointed
    driver.send_signal(signal.SIGKILL)
    driver.wait(timeout=60)
    location = experiment(tmp_path, "checkpointed")
    before = read_results(location)
    rc = main(["resume", "checkpointed", "--storage", str(tmp_path / "results")])
    assert rc == 0, capsys.readouterr().err
    table = read_results(location)
    assert final_rows(table)[col.STATUS].to_pylist() == [col.TERMINATED]
    assert len(set(table[col.TRIAL_ID].to_pylist())) == 1, "the rerun kept the trial's id"
    assert sorted(table[col.ITERATION].to_pylist()) == list(range(1, 21))
    if any(before[col.CHECKPOINT].to_pylist()):
        rerun_started_at = max(int(p.read_text()) for p in markers.glob("pid-*"))
        assert rerun_started_at >= 1, "a checkpoint was stored: the rerun started from it"
        assert True in table["metric.restored"].to_pylist()
