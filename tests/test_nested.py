"""Nested cross-validation on real Ray: outer folds tuned apart, their scores kept apart."""

from __future__ import annotations

import re
import textwrap

import pytest

from tunefw.cli.main import main
from tunefw.store.layout import Storage, find_experiment
from tunefw.store.manifest import load_manifest

pytestmark = pytest.mark.usefixtures("ray_session")

RECIPE = """
name: nested-iris
trainable: {kind: sklearn, estimator: sklearn.linear_model.LogisticRegression,
            params: {max_iter: 500}}
data: {loader: "sklearn.datasets:load_iris"}
objective: {metric: accuracy, mode: max}
search: {num_samples: 2, seed: 0, space: {}}
validation: {strategy: nested, outer_folds: 3, inner: {strategy: stratified_kfold, folds: 3}}
regularization: [{name: l2, range: [1.0e-3, 10.0]}]
"""


@pytest.mark.slow
def test_outer_scores_estimate_the_tuning_procedure(tmp_path, capsys):
    path = tmp_path / "r.yaml"
    path.write_text(textwrap.dedent(RECIPE) + f"storage: {tmp_path / 'results'}\n")
    assert main(["run", str(path)]) == 0
    out = capsys.readouterr().out
    estimate = re.search(r"nested CV estimate of the tuning procedure: accuracy (\d\.\d+)", out)
    assert estimate, out
    storage = Storage.open(str(tmp_path / "results"))
    assert storage.experiments() == [
        "nested-iris",
        "nested-iris.outer-0",
        "nested-iris.outer-1",
        "nested-iris.outer-2",
    ]
    nested = load_manifest(find_experiment(storage, "nested-iris"))["nested"]
    assert len(nested["outer_scores"]) == 3
    assert nested["mean"] == pytest.approx(float(estimate.group(1)), abs=1e-4)
    assert all(0.5 < s <= 1.0 for s in nested["outer_scores"])
    assert main(["best", "nested-iris", "--storage", str(tmp_path / "results")]) == 0
    assert "nested CV estimate" in capsys.readouterr().out


def test_an_unknown_inner_strategy_is_named(tmp_path, capsys):
    path = tmp_path / "r.yaml"
    path.write_text(textwrap.dedent(RECIPE).replace("stratified_kfold", "bootstrap"))
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "validation.inner.strategy: unknown validation strategy" in err[0]
