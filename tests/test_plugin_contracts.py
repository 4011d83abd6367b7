"""Every built-in plugin passes its kind's shared contract (tunefw.testing.contracts)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from pydantic import TypeAdapter
from sklearn.datasets import load_iris
from sklearn.model_selection import StratifiedKFold
from sklearn.tree import DecisionTreeClassifier

from tunefw import registry
from tunefw.context import TrialContext
from tunefw.protocols import Dataset, Split
from tunefw.space import ParamSpec
from tunefw.testing import contracts

from .conftest import DATA

PARAM = TypeAdapter(ParamSpec)
SPACE = {
    "C": PARAM.validate_python({"loguniform": [0.1, 10]}),
    "depth": PARAM.validate_python({"int": [1, 3]}),
    "kernel": PARAM.validate_python({"choice": ["rbf", "linear"]}),
    "tol": PARAM.validate_python(0.001),
}
IRIS = Dataset(*load_iris(return_X_y=True))

SEARCH_EXAMPLES: dict[str, dict[str, Any]] = {"random": {}, "grid": {"points": 3}}
VALIDATION_EXAMPLES: dict[str, dict[str, Any]] = {
    "holdout": {"fraction": 0.25, "stratify": True},
    "kfold": {"folds": 4},
    "stratified_kfold": {"folds": 3, "seed": 1},
}
REGULARIZER_EXAMPLES: dict[str, tuple[dict[str, Any], Any]] = {
    "l2": ({"range": [1e-3, 1.0]}, "sklearn.linear_model:LogisticRegression"),
}


def _splits() -> list[Split]:
    folds = StratifiedKFold(3, shuffle=True, random_state=0).split(IRIS.X, IRIS.y)
    return [Split(train=a, valid=b) for a, b in folds]


def _context(config: dict[str, Any], metric: str):
    def make(reporter):
        return TrialContext(
            config=config, metric=metric, reporter=reporter, data=IRIS, splits=_splits(), seed=0
        )

    return make


TRAINABLE_EXAMPLES: dict[str, tuple[dict[str, Any], Any]] = {
    "sklearn": (
        {"estimator": "sklearn.svm.SVC"},
        _context({"C": 1.0, "kernel": "rbf"}, "accuracy"),
    ),
    "function": (
        {"function": "toy_trainables:quadratic", "metrics": ["loss"]},
        _context({"x": 0.1}, "loss"),
    ),
}


@pytest.mark.parametrize(
    ("kind", "examples"),
    [
        ("search", SEARCH_EXAMPLES),
        ("validation", VALIDATION_EXAMPLES),
        ("regularization", REGULARIZER_EXAMPLES),
        ("trainable", TRAINABLE_EXAMPLES),
    ],
)
def test_every_built_in_has_a_contract_example(kind, examples):
    built_in = {i.name for i in registry.describe() if i.kind == kind and i.package == "tunefw"}
    assert built_in == set(examples)


@pytest.mark.parametrize("name", sorted(SEARCH_EXAMPLES))
def test_search_contract(name):
    contracts.check_search_strategy(registry.load("search", name), SEARCH_EXAMPLES[name], SPACE)


@pytest.mark.parametrize("name", sorted(VALIDATION_EXAMPLES))
def test_validation_contract(name):
    plugin = registry.load("validation", name)
    contracts.check_validation_strategy(plugin, VALIDATION_EXAMPLES[name], IRIS)


@pytest.mark.parametrize("name", sorted(REGULARIZER_EXAMPLES))
def test_regularizer_contract(name):
    from tunefw.imports import import_object

    params, estimator = REGULARIZER_EXAMPLES[name]
    cls = import_object(estimator, "test")
    contracts.check_regularizer(
        registry.load("regularization", name), params, cls, DecisionTreeClassifier()
    )


@pytest.mark.parametrize("name", sorted(TRAINABLE_EXAMPLES))
def test_trainable_contract(name, monkeypatch):
    monkeypatch.syspath_prepend(str(DATA))
    params, make_context = TRAINABLE_EXAMPLES[name]
    reports = contracts.check_trainable(registry.load("trainable", name), params, make_context)
    assert len(reports) == 3  # three folds for sklearn, three steps for the function


def test_stratified_splits_keep_class_balance():
    plugin = registry.load("validation", "stratified_kfold")
    strategy = plugin(plugin.Params(folds=5))
    for split in strategy.splits(IRIS):
        counts = np.bincount(IRIS.y[split.valid])
        assert counts.max() - counts.min() <= 1


def test_sklearn_reports_a_running_mean_over_folds(monkeypatch):
    params, make_context = TRAINABLE_EXAMPLES["sklearn"]
    reports = contracts.check_trainable(registry.load("trainable", "sklearn"), params, make_context)
    folds = [r["accuracy_fold"] for r in reports]
    assert [r["fold"] for r in reports] == [1, 2, 3]
    for i, report in enumerate(reports, start=1):
        assert report["accuracy"] == pytest.approx(np.mean(folds[:i]))
