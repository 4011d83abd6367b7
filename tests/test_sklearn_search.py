"""``tunefw.sklearn.TunefwSearchCV`` on real Ray: scikit-learn's search API over tunefw."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from scipy import stats
from sklearn.base import clone
from sklearn.datasets import load_iris
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, GroupKFold, LeaveOneOut
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from sklearn.utils.estimator_checks import (
    check_get_params_invariance,
    check_no_attributes_set_in_init,
    check_parameters_default_constructible,
    check_set_params,
)

from tunefw.cli.main import main
from tunefw.errors import PluginError, RecipeError, SpaceError
from tunefw.sklearn import TunefwSearchCV
from tunefw.store import columns as col

GRID = {"C": [0.1, 1.0, 10.0], "gamma": [0.01, 0.1]}


@pytest.fixture(scope="module")
def iris() -> tuple[np.ndarray, np.ndarray]:
    return load_iris(return_X_y=True)


def search(tmp_path, estimator, space, **kwargs) -> TunefwSearchCV:
    return TunefwSearchCV(estimator, space, storage=str(tmp_path / "results"), **kwargs)


@pytest.mark.usefixtures("ray_session")
def test_on_a_grid_it_gives_grid_search_cvs_results(tmp_path, iris):
    X, y = iris
    ours = search(tmp_path, SVC(), GRID, strategy="grid", cv=3).fit(X, y)
    theirs = GridSearchCV(SVC(), GRID, cv=3).fit(X, y)
    assert set(ours.cv_results_) == set(theirs.cv_results_), "the keys code reads"
    for key, value in theirs.cv_results_.items():
        assert len(ours.cv_results_[key]) == len(value) == 6, key
    where = {tuple(sorted(p.items())): i for i, p in enumerate(theirs.cv_results_["params"])}
    for i, params in enumerate(ours.cv_results_["params"]):
        j = where[tuple(sorted(params.items()))]
        for key in ("split0_test_score", "split1_test_score", "split2_test_score",
                    "mean_test_score", "std_test_score", "rank_test_score"):  # fmt: skip
            assert ours.cv_results_[key][i] == pytest.approx(theirs.cv_results_[key][j]), key
        assert ours.cv_results_["param_C"][i] == params["C"]
    assert ours.best_params_ == theirs.best_params_
    assert ours.best_score_ == pytest.approx(theirs.best_score_)
    assert ours.n_splits_ == theirs.n_splits_ == 3
    assert (ours.predict(X) == theirs.predict(X)).all()
    assert ours.score(X, y) == pytest.approx(theirs.score(X, y))
    assert ours.refit_time_ > 0 and list(ours.classes_) == [0, 1, 2]
    assert ours.experiment_.status == "completed"
    stored = ours.experiment_.results()
    assert len(set(stored.column(col.TRIAL_ID).to_pylist())) == 6 and stored.num_rows == 18


@pytest.mark.usefixtures("ray_session")
def test_a_pipeline_with_early_stopping_and_step_parameters(tmp_path, iris):
    X, y = iris
    pipeline = Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression(max_iter=500))])
    space = {"clf__C": stats.loguniform(1e-3, 1e2)}
    found = search(
        tmp_path, pipeline, space, n_trials=6, cv=3, early_stopping=True, random_state=0
    ).fit(X, y)
    results = found.cv_results_
    assert len(results["params"]) == 6 and set(found.best_params_) == {"clf__C"}
    assert 1e-3 <= found.best_params_["clf__C"] <= 1e2
    assert isinstance(found.best_estimator_, Pipeline)
    best_c = found.best_params_["clf__C"]
    assert found.best_estimator_.named_steps["clf"].get_params()["C"] == best_c
    assert found.predict_proba(X[:5]).shape == (5, 3)
    assert results["rank_test_score"][found.best_index_] == 1
    scores = np.column_stack([results[f"split{k}_test_score"] for k in range(3)])
    complete = ~np.isnan(scores).any(axis=1)
    assert complete[found.best_index_], "the best trial ran every fold"
    ranks = results["rank_test_score"]
    for i in np.flatnonzero(~complete):  # stopped early: ranked after every complete trial
        assert ranks[i] > ranks[complete].max()


@pytest.mark.usefixtures("ray_session")
def test_groups_go_to_group_kfold(tmp_path, iris):
    X, y = iris
    groups = np.arange(len(y)) % 5
    found = search(tmp_path, LogisticRegression(max_iter=300), {"C": [0.1, 1.0]},
                   strategy="grid", cv=GroupKFold(n_splits=5)).fit(X, y, groups=groups)  # fmt: skip
    assert found.n_splits_ == 5
    recipe = found.experiment_.manifest["recipe"]
    assert recipe["validation"]["strategy"] == "group_kfold"


@pytest.mark.usefixtures("ray_session")
def test_the_docs_example_runs_as_written(tmp_path, monkeypatch, capsys):
    page = (Path(__file__).parents[1] / "docs" / "sklearn.md").read_text()
    (example,) = re.findall(r"```python\n(.*?)```", page, flags=re.DOTALL)
    monkeypatch.chdir(tmp_path)
    exec(compile(example, "docs/sklearn.md", "exec"), {})
    best, predicted, rows = capsys.readouterr().out.splitlines()
    assert predicted.startswith("[") and "rank" not in predicted
    assert best.startswith("{'clf__C': ") and float(best.rsplit(" ", 1)[1]) > 0.85
    assert int(rows) >= 6, "every trial's folds stored"
    assert (tmp_path / "tunefw-results").is_dir()


def test_it_is_a_scikit_learn_estimator():
    estimator = TunefwSearchCV(SVC(), GRID)
    check_get_params_invariance("TunefwSearchCV", estimator)
    check_set_params("TunefwSearchCV", estimator)
    check_no_attributes_set_in_init("TunefwSearchCV", estimator)
    check_parameters_default_constructible("TunefwSearchCV", estimator)
    assert clone(estimator).get_params()["param_distributions"] == GRID
    with pytest.raises(NotFittedError):
        estimator.predict(np.zeros((1, 4)))
    assert not hasattr(TunefwSearchCV(SVC(), GRID, refit=False), "predict")
    assert not hasattr(TunefwSearchCV(SVC(), GRID), "predict_proba"), "SVC() has none"


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"cv": LeaveOneOut()}, RecipeError,
         "cv: give a number of folds, or a KFold, StratifiedKFold or GroupKFold (not LeaveOneOut)"),
        ({"cv": GroupKFold(3)}, RecipeError, "cv: GroupKFold needs groups: fit(X, y, groups=...)"),
        ({"param_distributions": {"C": stats.norm(0, 1)}}, SpaceError,
         "param_distributions.C: scipy.stats.norm has no tunefw equivalent"),
        # a run's own checks, naming the parameter rather than the recipe field it set
        ({"n_trials": 0}, RecipeError, "n_trials: Input should be greater than 0"),
        ({"scoring": "accurcy"}, RecipeError,
         "scoring: the sklearn trainable never reports 'accurcy'"),
        ({"param_distributions": {"Cx": [1, 2]}}, RecipeError,
         "param_distributions.Cx: SVC has no parameter 'Cx'"),
        ({"param_distributions": {"C": {"loguniform": [10, 1]}}}, RecipeError,
         "param_distributions.C.loguniform: empty or inverted range"),
        ({"strategy": "nope"}, PluginError, "strategy: unknown search strategy 'nope'"),
        ({"cv": 1}, PluginError, "cv: folds: Input should be greater than or equal to 2"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_before_anything_runs(tmp_path, iris, kwargs, error, message):
    X, y = iris
    options = {"param_distributions": GRID, **kwargs}
    found = TunefwSearchCV(SVC(), storage=str(tmp_path / "results"), **options)
    with pytest.raises(error) as raised:
        found.fit(X, y)
    assert str(raised.value).startswith(message) and "\n" not in str(raised.value)
    assert not (tmp_path / "results").exists(), "nothing stored"


@pytest.mark.parametrize(
    ("trainable", "message"),
    [
        ("{kind: sklearn}", "trainable: give one of estimator (an import path) or pickled"),
        ("{kind: sklearn, estimator: sklearn.svm.SVC, pickled: eA==}",
         "trainable: give one of estimator (an import path) or pickled"),
        ("{kind: sklearn, pickled: bm90IGEgcGlja2xl}",
         "trainable.pickled: not a pickled estimator (UnpicklingError: "),
        ("{kind: sklearn, pickled: gASVBQAAAAAAAACMAXiULg==}",  # pickle.dumps("x")
         "trainable.pickled: a str, not a scikit-learn estimator"),
    ],
)  # fmt: skip
def test_a_recipe_with_a_bad_pickled_estimator_is_one_line(tmp_path, capsys, trainable, message):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(
        f"name: pickled\ntrainable: {trainable}\n"
        'data: {loader: "sklearn.datasets:load_iris"}\n'
        "objective: {metric: accuracy, mode: max}\n"
        "search: {num_samples: 2, space: {C: {choice: [0.1, 1.0]}}}\n"
        f"storage: {tmp_path / 'results'}\n"
    )
    assert main(["validate", str(recipe)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {message}")
