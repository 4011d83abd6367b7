"""Queries over stored experiments: the CLI's filters and formats, and the Python API."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import tunefw
from tunefw.cli.main import main
from tunefw.errors import StoreError

from .faults_helpers import function_recipe

BRANIN = """
name: {name}
trainable: {{kind: function, function: "toy_trainables:branin"}}
objective: {{metric: value, mode: min}}
search:
  num_samples: 12
  seed: {seed}
  space: {{x1: {{uniform: [-5, 10]}}, x2: {{uniform: [0, 15]}}, kind: {{choice: [a, b]}}}}
scheduler: {{type: none}}  # one report per trial: nothing for ASHA to stop
"""


@pytest.fixture(scope="module")
def storage(tmp_path_factory: pytest.TempPathFactory, ray_session) -> Path:
    """Two small experiments, run once for the module."""
    root = tmp_path_factory.mktemp("queries")
    for name, seed in (("bran-a", 1), ("bran-b", 2)):
        folder = root / name
        folder.mkdir()
        path = function_recipe(folder, BRANIN.format(name=name, seed=seed))
        path.write_text(path.read_text().replace(str(folder / "results"), str(root / "results")))
        assert main(["run", str(path)]) == 0
    return root / "results"


def run_json(capsys, *args: str) -> list[dict]:
    capsys.readouterr()
    assert main(list(args)) == 0
    return json.loads(capsys.readouterr().out)


def test_where_sort_top_and_columns(storage, capsys):
    rows = run_json(
        capsys,
        "results", "bran-a", "--storage", str(storage), "--format", "json",
        "--where", "x1 > 0 and kind == a", "--sort", "-value", "--top", "3",
        "--columns", "trial_id,x1,kind,value",
    )  # fmt: skip
    assert rows and len(rows) <= 3
    assert set(rows[0]) == {"trial_id", "config.x1", "config.kind", "metric.value"}
    assert all(r["config.x1"] > 0 and r["config.kind"] == "a" for r in rows)
    values = [r["metric.value"] for r in rows]
    assert values == sorted(values, reverse=True)


def test_default_order_is_best_first(storage, capsys):
    rows = run_json(capsys, "results", "bran-a", "--storage", str(storage), "--format", "json")
    values = [r["metric.value"] for r in rows]
    assert len(rows) == 12 and values == sorted(values)


def test_parquet_and_csv_output(storage, capsys, tmp_path):
    out = tmp_path / "rows.parquet"
    args = ["results", "bran-a", "--storage", str(storage), "--format", "parquet"]
    assert main([*args, "--out", str(out)]) == 0
    assert pq.read_table(out).num_rows == 12
    capsys.readouterr()
    assert main(["results", "bran-a", "--storage", str(storage), "--format", "csv"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 13 and '"metric.value"' in lines[0]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--where", "x1 >"], "--where: cannot parse 'x1 >'"),
        (["--where", "x1 ~ 3"], "--where: cannot parse"),
        (["--where", "depth > 3"], "--where: unknown column 'depth'"),
        (["--sort", "nope"], "--sort: unknown column 'nope'"),
        (["--columns", "x1,zz"], "--columns: unknown column 'zz'"),
    ],
)
def test_bad_queries_are_one_line(storage, capsys, args, message):
    capsys.readouterr()
    assert main(["results", "bran-a", "--storage", str(storage), *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]


def test_unknown_experiment_and_escaping_names(storage, capsys):
    for name, message in (("nope", "no experiment 'nope'"), ("../x", "must be letters")):
        capsys.readouterr()
        assert main(["best", name, "--storage", str(storage)]) == 2
        assert message in capsys.readouterr().err


def test_experiments_lists_both(storage, capsys):
    capsys.readouterr()
    assert main(["experiments", "--storage", str(storage)]) == 0
    out = capsys.readouterr().out
    assert "bran-a" in out and "bran-b" in out and "completed" in out


def test_compare_side_by_side(storage, capsys):
    capsys.readouterr()
    assert main(["compare", "bran-a", "bran-b", "--storage", str(storage)]) == 0
    out = capsys.readouterr().out
    assert "x1" in out and "kind" in out and "value" in out


def test_open_results_pushes_filters_down(storage):
    table = tunefw.open_results(str(storage), "bran-a", columns=["x1", "value"], where="x1 < 2")
    assert table.column_names == ["config.x1", "metric.value"]
    assert table.num_rows >= 1 and max(table["config.x1"].to_pylist()) < 2
    frame = tunefw.to_pandas(table)
    assert list(frame.columns) == ["config.x1", "metric.value"]
    assert tunefw.to_polars(table).shape == (table.num_rows, 2)
    with pytest.raises(StoreError, match="unknown column 'nope'"):
        tunefw.open_results(str(storage), "bran-a", columns=["nope"])


def test_bool_metrics_are_typed(storage):
    table = tunefw.open_results(str(storage), "bran-b", columns=["good"])
    assert str(table.schema.field("metric.good").type) == "bool"


def test_warm_start_evaluates_the_best_configs_first(storage, tmp_path, capsys):
    best = tunefw.open_results(str(storage), "bran-a").sort_by("metric.value").slice(0, 3)
    body = BRANIN.format(name="warm", seed=9).replace(
        "  num_samples: 12",  # random: trial ids in start order, so the first 3 are the seeded
        "  strategy: random\n  num_samples: 5\n  warm_start: {experiment: bran-a, top_k: 3}",
    )
    path = function_recipe(tmp_path, body)
    path.write_text(path.read_text().replace(str(tmp_path / "results"), str(storage)))
    assert main(["run", str(path)]) == 0
    warm = tunefw.open_results(str(storage), "warm").sort_by("trial_id").to_pylist()
    assert len(warm) == 5
    seeded = {(r["config.x1"], r["config.x2"]) for r in warm[:3]}
    assert seeded == set(
        zip(best["config.x1"].to_pylist(), best["config.x2"].to_pylist(), strict=True)
    )


def test_warm_start_from_an_unknown_experiment(storage, tmp_path, capsys):
    body = BRANIN.format(name="cold", seed=1).replace(
        "  num_samples: 12", "  num_samples: 5\n  warm_start: {experiment: nothing-here}"
    )
    path = function_recipe(tmp_path, body)
    path.write_text(path.read_text().replace(str(tmp_path / "results"), str(storage)))
    capsys.readouterr()
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "search.warm_start.experiment: no experiment 'nothing-here'" in err


def test_warm_start_is_refused_by_grid_search(storage, tmp_path, capsys):
    body = BRANIN.format(name="g", seed=1).replace(
        "  num_samples: 12",
        "  strategy: grid\n  params: {points: 2}\n  warm_start: {experiment: bran-a}",
    )
    path = function_recipe(tmp_path, body)
    path.write_text(path.read_text().replace(str(tmp_path / "results"), str(storage)))
    capsys.readouterr()
    assert main(["validate", str(path)]) == 2
    assert "grid search visits every point" in capsys.readouterr().err


def test_where_filters_trials_by_their_final_row(storage, capsys, tmp_path):
    path = function_recipe(
        tmp_path,
        """
        name: curve
        trainable: {kind: function, function: "toy_trainables:quadratic"}
        objective: {metric: loss, mode: min}
        search: {num_samples: 3, seed: 0, space: {x: {uniform: [0, 1]}}}
        scheduler: {type: none}
        """,
    )
    path.write_text(path.read_text().replace(str(tmp_path / "results"), str(storage)))
    assert main(["run", str(path)]) == 0
    # each trial reports steps 1, 2, 3: its final row has step 3
    final = run_json(capsys, "results", "curve", "--storage", str(storage), "--format", "json",
                     "--where", "step == 1")  # fmt: skip
    assert final == []
    every = run_json(capsys, "results", "curve", "--storage", str(storage), "--format", "json",
                     "--where", "step == 1", "--all-rows")  # fmt: skip
    assert len(every) == 3
