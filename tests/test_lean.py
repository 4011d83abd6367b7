"""Lean mode on the session's real Ray: several configs per Ray Tune trial, each stored as a
trial of its own, ASHA deciding per config exactly as Ray Tune's does."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
import ray
import yaml

from tunefw.cli.main import main
from tunefw.running.rung_board import BOARD_NAME
from tunefw.store import columns as col
from tunefw.store.reader import final_rows, read_results

from .faults_helpers import experiment, function_recipe, stored_keys

pytestmark = pytest.mark.usefixtures("ray_session")


def curve_recipe(tmp_path: Path, name: str, extra: str) -> Path:
    return function_recipe(
        tmp_path,
        f"""
        name: {name}
        trainable: {{kind: function, function: "toy_trainables:curve"}}
        objective: {{metric: loss, mode: min}}
        search:
          strategy: random  # the same seeded configs whether trials are packed or not
          num_samples: 30
          seed: 3
          space: {{x: {{uniform: [0, 1]}}, steps: 9}}
        scheduler: {{type: asha, max_t: 9, grace_period: 1, reduction_factor: 3}}
        {extra}
        """,
    )


def outcomes(tmp_path: Path, name: str) -> dict[float, tuple[str, int]]:
    """Per config (by its x): the status it ended with and how many results it reported."""
    finals = final_rows(read_results(experiment(tmp_path, name))).to_pylist()
    return {r["config.x"]: (r[col.STATUS], r[col.ITERATION]) for r in finals}


def live_rung_boards() -> set[str]:
    """The names of the rung-board actors alive on the session's Ray."""
    return {name for name in ray.util.list_named_actors() if name.startswith(BOARD_NAME)}


def test_lean_asha_stops_each_config_where_ray_tunes_asha_does(tmp_path):
    """One pack of 30 configs against 30 Ray Tune trials one at a time: same configs (the
    same seeded generator), same ASHA, hence the same decision for every config."""
    recipe = curve_recipe(tmp_path, "ordinary", "")
    assert main(["run", str(recipe), "--set", "search.max_concurrent=1"]) == 0
    assert main(["run", str(recipe), "--name", "lean", "--set", "lean.configs_per_trial=30"]) == 0

    expected, got = outcomes(tmp_path, "ordinary"), outcomes(tmp_path, "lean")
    assert len(got) == 30
    assert got == expected
    statuses = Counter(status for status, _ in got.values())
    assert statuses[col.STOPPED_EARLY] >= 15, statuses
    assert statuses[col.TERMINATED] >= 1, statuses


def test_lean_stores_every_config_as_a_trial_with_each_result_once(tmp_path):
    recipe = curve_recipe(tmp_path, "packs", "lean: {configs_per_trial: 4}")
    boards_before = live_rung_boards()
    assert main(["run", str(recipe)]) == 0
    assert live_rung_boards() == boards_before, "the run's rung board ended with the run"
    location = experiment(tmp_path, "packs")
    table = read_results(location)
    finals = final_rows(table).to_pylist()
    assert len(finals) == 30
    assert len({r[col.TRIAL_ID] for r in finals}) == 30
    per_trial: dict[str, list[int]] = {}
    for row in table.select([col.TRIAL_ID, col.ITERATION]).to_pylist():
        per_trial.setdefault(row[col.TRIAL_ID], []).append(row[col.ITERATION])
    for iterations in per_trial.values():
        assert sorted(iterations) == list(range(1, len(iterations) + 1))
    keys = stored_keys(location)
    assert len(keys) == len(set(keys)) == table.num_rows
    assert all(r[col.NODE_ID] and r[col.TRIAL_TIME] is not None for r in finals)


def exits_recipe(tmp_path: Path, retries: int) -> Path:
    (tmp_path / "markers").mkdir()
    return function_recipe(
        tmp_path,
        f"""
        name: exits
        trainable: {{kind: function, function: "toy_trainables:exits_once"}}
        objective: {{metric: loss, mode: min}}
        search:
          num_samples: 12
          seed: 0
          space: {{x: {{uniform: [0, 1]}}, marker_dir: "{tmp_path / "markers"}"}}
        scheduler: {{type: none}}
        lean: {{configs_per_trial: 4}}
        failure: {{max_retries: {retries}}}
        """,
    )


def test_a_pack_whose_worker_dies_is_retried_and_each_result_is_stored_once(tmp_path):
    assert main(["run", str(exits_recipe(tmp_path, retries=1))]) == 0
    assert (tmp_path / "markers" / "died").exists(), "one worker did die"
    location = experiment(tmp_path, "exits")
    finals = final_rows(read_results(location)).to_pylist()
    assert len(finals) == 12
    assert {r[col.STATUS] for r in finals} == {col.TERMINATED}
    keys = stored_keys(location)
    assert len(keys) == len(set(keys)) == 24, "each (config, iteration) exactly once"


def test_the_configs_a_dead_pack_never_reported_are_stored_as_errored(tmp_path):
    assert main(["run", str(exits_recipe(tmp_path, retries=0))]) == 0
    finals = final_rows(read_results(experiment(tmp_path, "exits"))).to_pylist()
    assert len(finals) == 12, "every config has its final row"
    errored = [r for r in finals if r[col.STATUS] == col.ERRORED]
    assert 1 <= len(errored) <= 4, "at most the one pack's configs"
    assert all(r[col.ERROR] for r in errored)


def test_a_failing_config_is_stored_with_its_traceback_and_its_pack_goes_on(tmp_path):
    recipe = function_recipe(
        tmp_path,
        """
        name: flaky-lean
        trainable: {kind: function, function: "toy_trainables:fails_above"}
        objective: {metric: loss, mode: min}
        search: {strategy: random, num_samples: 12, seed: 1, space: {x: {uniform: [0, 1]}}}
        lean: {configs_per_trial: 6}
        """,
    )
    assert main(["run", str(recipe)]) == 0
    finals = final_rows(read_results(experiment(tmp_path, "flaky-lean"))).to_pylist()
    assert len(finals) == 12
    errored = [r for r in finals if r[col.STATUS] == col.ERRORED]
    assert errored and all(r["config.x"] > 0.5 for r in errored)
    assert all("RuntimeError: diverged" in r[col.ERROR] for r in errored)
    assert all(r[col.STATUS] != col.ERRORED for r in finals if r["config.x"] <= 0.5)


def test_a_model_based_search_is_told_every_config(tmp_path):
    recipe = function_recipe(
        tmp_path,
        """
        name: bayes-lean
        trainable: {kind: function, function: "toy_trainables:quadratic"}
        objective: {metric: loss, mode: min}
        search: {strategy: bayesian, num_samples: 10, seed: 0, space: {x: {uniform: [0, 1]}}}
        scheduler: {type: none}
        lean: {configs_per_trial: 4}
        """,
    )
    assert main(["run", str(recipe)]) == 0
    finals = final_rows(read_results(experiment(tmp_path, "bayes-lean"))).to_pylist()
    assert len(finals) == 10
    assert len({r["config.x"] for r in finals}) == 10
    assert {r[col.STATUS] for r in finals} == {col.TERMINATED}


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            {"lean": {"configs_per_trial": 4}, "scheduler": {"type": "median"}},
            "lean: scheduler.type median works on whole Ray Tune trials",
        ),
        (
            {"lean": {"configs_per_trial": 4}, "loggers": [{"type": "tensorboard"}]},
            "lean: loggers[0]: tensorboard sees Ray Tune trials",
        ),
        ({"lean": {"configs_per_trial": 1}}, "lean.configs_per_trial"),
        ({"lean": {"configs_per_trial": 4, "per_pack": 4}}, "lean.per_pack"),
    ],
)
def test_lean_refuses_what_it_cannot_keep_in_one_line(tmp_path, capsys, extra, message):
    recipe = {
        "name": "refused",
        "trainable": {"kind": "function", "function": "toy_trainables:quadratic"},
        "objective": {"metric": "loss", "mode": "min"},
        "search": {"num_samples": 4, "space": {"x": {"uniform": [0, 1]}}},
        **extra,
    }
    path = function_recipe(tmp_path, yaml.safe_dump(recipe))
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_a_recipe_error_inside_a_pack_ends_the_run_in_one_line(tmp_path, capsys):
    recipe = function_recipe(
        tmp_path,
        """
        name: wrong-metric
        trainable: {kind: function, function: "toy_trainables:reports_wrong_metric"}
        objective: {metric: loss, mode: min}
        search: {num_samples: 8, space: {x: {uniform: [0, 1]}}}
        lean: {configs_per_trial: 4}
        """,
    )
    assert main(["run", str(recipe)]) == 2
    err = capsys.readouterr().err
    assert "objective.metric: the trainable never reports 'loss'" in err


def test_progress_and_json_events_count_configs_not_packs(tmp_path, capsys):
    recipe = curve_recipe(tmp_path, "events", "lean: {configs_per_trial: 8}")
    assert main(["run", str(recipe), "--json"]) == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    completed = [e for e in events if e["event"] == "trial_completed"]
    finals = {
        r[col.TRIAL_ID]: r
        for r in final_rows(read_results(experiment(tmp_path, "events"))).to_pylist()
    }
    assert {e["trial_id"]: e["status"] for e in completed} == {
        trial_id: row[col.STATUS] for trial_id, row in finals.items()
    }
    results = [e for e in events if e["event"] == "trial_result"]
    assert len(results) == read_results(experiment(tmp_path, "events")).num_rows
    (finished,) = [e for e in events if e["event"] == "run_finished"]
    assert finished["trials"] == 30
