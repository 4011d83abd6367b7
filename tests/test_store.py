"""The Parquet store's layout, atomic writes and reads, on real files."""

from __future__ import annotations

import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tunefw.cli.main import main
from tunefw.errors import StoreError
from tunefw.store import columns as col
from tunefw.store.layout import RunLocation, Storage, latest_run, write_atomic
from tunefw.store.reader import best_trial, final_rows, read_results


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


def write_part(location: RunLocation, name: str, data: list[dict]) -> None:
    location.storage.fs.create_dir(location.results_dir, recursive=True)
    table = pa.Table.from_pylist(data)
    write_atomic(
        location.storage, f"{location.results_dir}/{name}", lambda out: pq.write_table(table, out)
    )


@pytest.fixture
def location(tmp_path) -> RunLocation:
    return RunLocation(Storage.open(str(tmp_path)), "exp", "20260101-000000-abcd")


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
    best = best_trial(read_results(location), "acc", "max")
    assert best is not None
    assert (best.trial_id, best.score, best.config) == ("t1", 0.7, {"x": 1.0})
    assert best_trial(read_results(location), "acc", "min").trial_id == "t1"
    assert best_trial(read_results(location), "nope", "max") is None


def test_an_interrupted_write_leaves_no_part(location):
    location.storage.fs.create_dir(location.results_dir, recursive=True)

    def crash(out):
        out.write(b"PAR1 half a file")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_atomic(location.storage, f"{location.results_dir}/part-9.parquet", crash)

    assert os.listdir(location.results_dir) == []
    assert read_results(location).num_rows == 0


def test_latest_run_and_unknown_names(tmp_path):
    storage = Storage.open(str(tmp_path))
    for run in ("20260101-000000-aaaa", "20260102-000000-bbbb"):
        (tmp_path / "exp" / run).mkdir(parents=True)
    assert latest_run(storage, "exp").run_id == "20260102-000000-bbbb"
    assert latest_run(storage, "exp", "20260101-000000-aaaa").run_id == "20260101-000000-aaaa"
    with pytest.raises(StoreError, match=r"no experiment 'other' in .* \(known: exp\)"):
        latest_run(storage, "other")
    with pytest.raises(StoreError, match="--run: experiment 'exp' has no run 'x'"):
        latest_run(storage, "exp", "x")


def test_results_of_an_unknown_experiment_is_one_line(tmp_path, capsys):
    assert main(["results", "nothing", "--storage", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no experiment 'nothing'" in err[0]


def test_bad_format_flag_is_one_line(tmp_path, capsys):
    assert main(["results", "x", "--format", "xml"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--format" in err[0]
