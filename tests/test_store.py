"""The Parquet store's layout, atomic writes and reads, on real files."""

from __future__ import annotations

import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tunefw.cli.main import main
from tunefw.errors import StoreError
from tunefw.recipe.objective import Objective
from tunefw.store import columns as col
from tunefw.store.layout import (
    FORMAT,
    ExperimentLocation,
    Storage,
    find_experiment,
    write_atomic,
    write_json,
)
from tunefw.store.ranking import best_trial, pareto_front, ranked_trials, with_rank_columns
from tunefw.store.reader import final_rows, read_results


def rows(trial: str, status: str, scores: list[float], x: float) -> list[dict]:
    out = []
    for i, score in enumerate(scores, start=1):
        last = i == len(scores)
        out.append(
            {
                col.TRIAL_ID: trial,
                col.ITERATION: i,
                col.STATUS: status if last else col.RUNNING,
                "config.x": x,
                "metric.acc": score,
            }
        )
    return out


def write_part(location: ExperimentLocation, name: str, data: list[dict]) -> None:
    location.storage.fs.create_dir(location.results_dir, recursive=True)
    table = pa.Table.from_pylist(data)
    write_atomic(
        location.storage, f"{location.results_dir}/{name}", lambda out: pq.write_table(table, out)
    )


@pytest.fixture
def location(tmp_path) -> ExperimentLocation:
    return ExperimentLocation(Storage.open(str(tmp_path)), "exp")


def test_parts_are_read_together_with_their_columns_unified(location):
    write_part(location, "part-000000-a.parquet", rows("t1", col.TERMINATED, [0.5, 0.7], 1.0))
    extra = rows("t2", col.STOPPED_EARLY, [0.9], 2.0)
    extra[0]["metric.loss"] = 0.1
    write_part(location, "part-000001-a.parquet", extra)
    table = read_results(location)
    assert table.num_rows == 3
    assert table.column("metric.loss").null_count == 2
    finals = final_rows(table).to_pylist()
    assert [(r[col.TRIAL_ID], r[col.ITERATION]) for r in finals] == [("t1", 2), ("t2", 1)]


def test_best_prefers_trials_that_ran_to_completion(location):
    write_part(
        location,
        "part-000000-a.parquet",
        rows("t1", col.TERMINATED, [0.5, 0.7], 1.0) + rows("t2", col.STOPPED_EARLY, [0.9], 2.0),
    )
    best = best_trial(read_results(location), objective("acc", "max"))
    assert best is not None
    assert (best.trial_id, best.score, best.config) == ("t1", 0.7, {"x": 1.0})
    assert best_trial(read_results(location), objective("acc", "min")).trial_id == "t1"
    assert best_trial(read_results(location), objective("nope", "max")) is None


def objective(metric: str, mode: str, **more) -> Objective:
    return Objective.model_validate({"metric": metric, "mode": mode, **more})


def final(trial: str, **metrics: float) -> dict:
    row = {col.TRIAL_ID: trial, col.ITERATION: 1, col.STATUS: col.TERMINATED, "config.x": 0.0}
    return row | {f"metric.{k}": v for k, v in metrics.items()}


def test_constraints_rank_infeasible_trials_last(location):
    write_part(
        location,
        "part-000000-a.parquet",
        [final("t1", acc=0.9, loss=0.8), final("t2", acc=0.7, loss=0.2), final("t3", acc=0.8)],
    )
    constrained = objective("acc", "max", constraints=["loss <= 0.5"])
    ranked = [r[col.TRIAL_ID] for r in ranked_trials(read_results(location), constrained)]
    assert ranked == ["t2", "t1", "t3"]  # t3 never reported loss: infeasible too
    assert best_trial(read_results(location), constrained).trial_id == "t2"
    flags = with_rank_columns(final_rows(read_results(location)), constrained)
    assert dict(
        zip(flags[col.TRIAL_ID].to_pylist(), flags["feasible"].to_pylist(), strict=True)
    ) == {
        "t1": False,
        "t2": True,
        "t3": False,
    }
    impossible = objective("acc", "max", constraints=["loss <= 0.1"])
    assert best_trial(read_results(location), impossible) is None


def test_pareto_front_keeps_the_non_dominated_trials(location):
    trials = {"a": (0.9, 5.0), "b": (0.8, 1.0), "c": (0.7, 2.0), "d": (0.9, 6.0), "e": (0.6, 0.5)}
    write_part(
        location,
        "part-000000-a.parquet",
        [final(t, acc=acc, seconds=sec) for t, (acc, sec) in trials.items()],
    )
    multi = Objective.model_validate({"metrics": {"acc": "max", "seconds": "min"}})
    front = [r[col.TRIAL_ID] for r in pareto_front(read_results(location), multi)]
    assert front == ["a", "b", "e"]  # c is beaten by b on both; d by a on seconds
    assert best_trial(read_results(location), multi).trial_id == "a"
    flags = with_rank_columns(final_rows(read_results(location)), multi)
    assert {
        t
        for t, p in zip(flags[col.TRIAL_ID].to_pylist(), flags["pareto"].to_pylist(), strict=True)
        if p
    } == {"a", "b", "e"}


def test_an_interrupted_write_leaves_no_part(location):
    location.storage.fs.create_dir(location.results_dir, recursive=True)

    def crash(out):
        out.write(b"PAR1 half a file")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_atomic(location.storage, f"{location.results_dir}/part-9.parquet", crash)

    assert os.listdir(location.results_dir) == []
    assert read_results(location).num_rows == 0


def test_experiments_are_found_by_their_manifest(tmp_path):
    storage = Storage.open(str(tmp_path))
    (tmp_path / "exp").mkdir()
    write_json(storage, f"{storage.root}/exp/manifest.json", {"format": FORMAT})
    (tmp_path / "not-an-experiment").mkdir()
    (tmp_path / "not-an-experiment" / "manifest.json").write_text('{"status": "completed"}')
    assert storage.experiments() == ["exp"]
    assert find_experiment(storage, "exp").name == "exp"
    with pytest.raises(StoreError, match=r"no experiment 'other' in .* \(known: exp\)"):
        find_experiment(storage, "other")


@pytest.mark.parametrize("name", ["../x", "/etc", "a/b", ".hidden", ""])
def test_names_that_would_escape_the_root_are_refused(tmp_path, name):
    with pytest.raises(StoreError, match="must be letters, digits"):
        find_experiment(Storage.open(str(tmp_path)), name)


def test_results_of_an_unknown_experiment_is_one_line(tmp_path, capsys):
    assert main(["results", "nothing", "--storage", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no experiment 'nothing'" in err[0]


def test_bad_format_flag_is_one_line(tmp_path, capsys):
    assert main(["results", "x", "--format", "xml"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--format" in err[0]
