"""What ``run --resume`` lets a recipe change about the experiment it continues: how much more
to run and where, never what its trials mean."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tunefw.recipe.loading import validate_recipe
from tunefw.recipe.resume_changes import first_change

RAN: dict[str, Any] = {
    "name": "svc",
    "trainable": {"kind": "sklearn", "estimator": "sklearn.svm.SVC"},
    "data": {"loader": "sklearn.datasets:load_digits"},
    "objective": {"metric": "accuracy", "mode": "max"},
    "search": {"num_samples": 8, "seed": 0, "space": {"C": {"loguniform": [0.01, 100.0]}}},
    "validation": {"strategy": "kfold", "folds": 3},
    "regularization": [{"name": "l2", "range": [1.0e-4, 10.0]}],
}


def changed(path: str, value: Any) -> dict[str, Any]:
    """``RAN`` with the field at dotted ``path`` set to ``value``."""
    recipe = copy.deepcopy(RAN)
    *heads, leaf = path.split(".")
    section = recipe
    for key in heads:
        section = section[key]
    section[leaf] = value
    return recipe


def change(path: str, value: Any) -> tuple[str, str, str] | None:
    return first_change(validate_recipe(RAN, "ran"), validate_recipe(changed(path, value), "new"))


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("search.num_samples", 50),
        ("search.max_concurrent", 4),
        ("budget", {"wall_time_s": 600}),
        ("stop", {"plateau": {"patience": 10}}),
        ("resources", {"cpu": 2}),
        ("failure", {"max_retries": 2}),
        ("loggers", [{"type": "tensorboard"}]),
        ("description", "fifty more"),
    ],
)
def test_how_much_more_to_run_and_where_may_change(path, value):
    assert change(path, value) is None


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("search.space", {"C": {"loguniform": [1.0, 100.0]}},
         ("search.space.C.loguniform", "[0.01, 100.0]", "[1.0, 100.0]")),
        ("search.space", {"C": {"loguniform": [0.01, 100.0]}, "tol": {"uniform": [0, 1]}},
         ("search.space.tol", "nothing", '{"uniform": [0.0, 1.0]}')),
        ("objective.mode", "min", ("objective.mode", '"max"', '"min"')),
        ("search.seed", 1, ("search.seed", "0", "1")),
        ("search.strategy", "bayesian", ("search.strategy", '"auto"', '"bayesian"')),
        ("regularization", [{"name": "l2", "range": [1.0e-3, 10.0]}],
         ("regularization[0].range", "[0.0001, 10.0]", "[0.001, 10.0]")),
        ("validation.folds", 5, ("validation.folds", "3", "5")),
        ("data.loader", "sklearn.datasets:load_iris",
         ("data.loader", '"sklearn.datasets:load_digits"', '"sklearn.datasets:load_iris"')),
    ],
)  # fmt: skip
def test_what_the_trials_mean_may_not(path, value, expected):
    assert change(path, value) == expected
