"""Recipe validation through ``tunefw validate``: every bad input is one line and exit 2."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tunefw.cli.main import main
from tunefw.recipe.loading import load_recipe

from .conftest import DATA, REPO

SKLEARN = """
name: t
trainable: {kind: sklearn, estimator: sklearn.linear_model.LogisticRegression,
            params: {max_iter: 200}}
data: {loader: "sklearn.datasets:load_iris"}
objective: {metric: accuracy, mode: max}
search:
  strategy: random
  num_samples: 2
  space:
    tol: {loguniform: [1.0e-5, 1.0e-2]}
validation: {strategy: kfold, folds: 3}
regularization: [{name: l2, range: [1.0e-4, 10.0]}]
"""


def validate(path: Path, *overrides: str, load_data: bool = False) -> int:
    args = ["validate", str(path), *(["--load-data"] if load_data else [])]
    for o in overrides:
        args += ["--set", o]
    return main(args)


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert lines[0].startswith("error: ")
    return lines[0]


def test_a_good_recipe_validates(recipe_file, capsys):
    assert validate(recipe_file(SKLEARN)) == 0
    assert "ok" in capsys.readouterr().out


def test_quickstart_validates(capsys):
    assert validate(REPO / "recipes" / "quickstart.yaml") == 0


def test_missing_file(tmp_path, capsys):
    assert validate(tmp_path / "nope.yaml") == 2
    assert "nope.yaml: file not found" in one_error_line(capsys)


def test_bad_yaml(recipe_file, capsys):
    assert validate(recipe_file("name: [unclosed\n")) == 2
    line = one_error_line(capsys)
    assert "recipe.yaml: invalid YAML at line" in line


def test_not_a_mapping(recipe_file, capsys):
    assert validate(recipe_file("- a\n- b\n")) == 2
    assert "must be a YAML mapping" in one_error_line(capsys)


def test_unknown_field(recipe_file, capsys):
    assert validate(recipe_file(SKLEARN + "colour: blue\n")) == 2
    assert "recipe.yaml: colour: unknown field" in one_error_line(capsys)


def test_unknown_nested_field(recipe_file, capsys):
    assert validate(recipe_file(SKLEARN), "search.budget=3") == 2
    assert "search.budget: unknown field" in one_error_line(capsys)


@pytest.mark.parametrize(
    ("override", "field", "known"),
    [
        (
            "search.strategy=annealing",
            "search.strategy",
            "bayesian, cmaes, grid, hypergradient, nsga2, qmc, random",
        ),
        ("validation.strategy=bootstrap", "validation.strategy", "holdout, kfold"),
        ("trainable.kind=keras", "trainable.kind", "function, lightning, linear, sklearn"),
        ("regularization=[{name: l3}]", "regularization[0].name", "l2"),
    ],
)
def test_unknown_plugin_lists_known_names(recipe_file, capsys, override, field, known):
    assert validate(recipe_file(SKLEARN), override) == 2
    line = one_error_line(capsys)
    assert f"{field}: unknown" in line
    assert known in line


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ("validation.folds=many", "validation.folds"),
        ("validation.shuffle=[1]", "validation.shuffle"),
        ("search.params={points: 3}", "search.params.points"),
        ("regularization=[{name: l2, range: soft}]", "regularization[0].range"),
        ("trainable.params=7", "trainable.params"),
    ],
)
def test_plugin_params_of_the_wrong_type(recipe_file, capsys, override, field):
    assert validate(recipe_file(SKLEARN), override) == 2
    assert f"error: {field}:" in one_error_line(capsys)


@pytest.mark.parametrize(
    ("space", "message"),
    [
        ("{loguniform: [1.0, 1.0]}", "empty or inverted range"),
        ("{uniform: [0.5, 0.1]}", "empty or inverted range"),
        ("{int: [9, 2]}", "empty or inverted range"),
        ("{loguniform: [0, 1]}", "log-scale bounds must be > 0"),
        ("{loguniform: [-1.0, 1]}", "log-scale bounds must be > 0"),
    ],
)
def test_bad_ranges(recipe_file, capsys, space, message):
    assert validate(recipe_file(SKLEARN), f"search.space.tol={space}") == 2
    line = one_error_line(capsys)
    assert "search.space.tol" in line
    assert message in line


def test_l2_range_must_be_positive(recipe_file, capsys):
    assert validate(recipe_file(SKLEARN), "regularization=[{name: l2, range: [0, 1]}]") == 2
    assert "regularization[0]: range must satisfy 0 < low < high" in one_error_line(capsys)


def test_metric_the_sklearn_trainable_never_reports(recipe_file, capsys):
    assert validate(recipe_file(SKLEARN), "objective.metric=acc") == 2
    line = one_error_line(capsys)
    assert "objective.metric" in line and "'acc'" in line


def test_metric_a_function_does_not_declare(recipe_file, capsys):
    recipe = SKLEARN.replace(
        "trainable: {kind: sklearn, estimator: sklearn.linear_model.LogisticRegression,\n"
        "            params: {max_iter: 200}}",
        "trainable: {kind: function, function: 'toy_trainables:quadratic', metrics: [loss]}",
    ).replace("regularization: [{name: l2, range: [1.0e-4, 10.0]}]\n", "")
    path = recipe_file(recipe)
    shutil.copy(DATA / "toy_trainables.py", path.parent)
    assert validate(path, "search.space={x: {uniform: [0, 1]}}") == 2
    assert "objective.metric: the trainable never reports 'accuracy'" in one_error_line(capsys)


def test_space_parameter_the_estimator_lacks(recipe_file, capsys):
    assert validate(recipe_file(SKLEARN), "search.space.depth={int: [1, 3]}") == 2
    assert "search.space.depth: LogisticRegression has no parameter" in one_error_line(capsys)


def test_regularizer_and_space_setting_the_same_parameter(recipe_file, capsys):
    assert validate(recipe_file(SKLEARN), "search.space.C={loguniform: [0.1, 10]}") == 2
    assert "regularization[0]: sets LogisticRegression's 'C'" in one_error_line(capsys)


def test_regularizer_on_an_estimator_without_the_parameter(recipe_file, capsys):
    path = recipe_file(SKLEARN)
    rc = validate(
        path,
        "trainable.estimator=sklearn.tree.DecisionTreeClassifier",
        "trainable.params={}",
        "search.space={max_depth: {int: [1, 4]}}",
    )
    assert rc == 2
    assert "l2 cannot be applied to DecisionTreeClassifier" in one_error_line(capsys)


def test_grid_refuses_a_continuous_range_without_points(recipe_file, capsys):
    assert validate(recipe_file(SKLEARN), "search.strategy=grid") == 2
    line = one_error_line(capsys)
    assert "search.space.tol" in line and "search.params.points" in line


def test_storage_that_cannot_be_written(recipe_file, tmp_path, capsys, ray_session):
    blocker = tmp_path / "a-file"  # a path under a regular file can't be created, even by root
    blocker.write_text("kept")
    rc = main(["run", str(recipe_file(SKLEARN)), "--storage", str(blocker / "results")])
    assert rc == 2
    line = one_error_line(capsys)
    assert line.startswith(f"error: storage: cannot create {blocker / 'results'}: ")
    assert line.endswith(f"{blocker} is a file, not a directory")
    assert blocker.read_text() == "kept"


def test_set_overrides_are_typed_by_the_schema(recipe_file):
    recipe = load_recipe(
        recipe_file(SKLEARN),
        ["search.num_samples=50", "scheduler.reduction_factor=2", "resources.gpu=0.25"],
    )
    assert recipe.search.num_samples == 50
    assert recipe.scheduler.reduction_factor == 2.0
    assert recipe.resources.gpu == 0.25


def test_set_without_equals(recipe_file, capsys):
    assert validate(recipe_file(SKLEARN), "search.num_samples") == 2
    assert "expected KEY=VALUE" in one_error_line(capsys)


def test_set_with_a_value_of_the_wrong_type(recipe_file, capsys):
    assert validate(recipe_file(SKLEARN), "search.num_samples=lots") == 2
    assert "search.num_samples: Input should be a valid integer" in one_error_line(capsys)


def test_unknown_cli_flag_is_one_line(capsys):
    assert main(["run", "--colour", "x.yaml"]) == 2
    assert "No such option: --colour" in one_error_line(capsys)


def test_console_script_exit_code_and_debug_traceback(tmp_path):
    missing = tmp_path / "missing.yaml"
    plain = subprocess.run(
        [sys.executable, "-m", "tunefw.cli", "validate", str(missing)],
        capture_output=True,
        text=True,
    )
    assert plain.returncode == 2
    assert plain.stderr.strip() == f"error: {missing}: file not found"
    debug = subprocess.run(
        [sys.executable, "-m", "tunefw.cli", "validate", str(missing)],
        capture_output=True,
        text=True,
        env={**os.environ, "TUNEFW_DEBUG": "1"},
    )
    assert debug.returncode != 0
    assert "Traceback" in debug.stderr and "RecipeError" in debug.stderr


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            ["trainable.estimator=sklearn.svm.SVC", "trainable.params={}", "search.space={}",
             "regularization=[{name: dropout}]"],
            "regularization: dropout cannot be applied to SVC",
        ),
        (["validation={strategy: group_kfold, folds: 3}"], "validation: group_kfold needs groups"),
        (["validation={strategy: holdout, fraction: 1.5}"],
         "validation.fraction: Input should be less than 1"),
        (["validation={strategy: kfold, folds: 500}"],
         "validation: Cannot have number of splits n_splits=500"),
    ],
)  # fmt: skip
def test_plugin_refusals_before_any_trial(recipe_file, capsys, overrides, message):
    assert validate(recipe_file(SKLEARN), *overrides, load_data=True) == 2
    assert message in one_error_line(capsys)
