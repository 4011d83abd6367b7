"""What is checked before anything runs: every stage, nested CV's folds, a scheduler over
folds, and ``validate`` running none of the recipe's code. None of these tests starts Ray."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest
import ray

from tunefw.cli.main import main
from tunefw.errors import PluginError
from tunefw.plugin_api.resolve import resolve
from tunefw.prepare import prepared as prepare
from tunefw.prepare.prepared import prepare_recipe
from tunefw.recipe.loading import load_recipe, validate_recipe
from tunefw.running import stages
from tunefw.running.compile import compile_experiment
from tunefw.running.manifests import new_manifest
from tunefw.running.progress.output import RunOutput
from tunefw.running.runner import RunOptions
from tunefw.running.stages import prepare_stages, run_stages
from tunefw.store.layout import ExperimentLocation, Storage
from tunefw.store.manifest import write_manifest

from .faults_helpers import function_recipe


@pytest.fixture(autouse=True)
def no_ray(monkeypatch: pytest.MonkeyPatch) -> None:
    """Everything here is refused or checked before Ray would start."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("this test must not start Ray")

    monkeypatch.setattr(ray, "init", refuse)


def error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def take(storage: Path, name: str, recipe: Path) -> Path:
    """An experiment ``name`` in ``storage``, as a run of ``recipe`` leaves it."""
    loaded = load_recipe(recipe)
    location = ExperimentLocation(Storage.open(str(storage)), name)
    (storage / name).mkdir(parents=True)
    write_manifest(location, new_manifest(location, loaded, resolve(loaded)))
    return storage / name / "manifest.json"


def stored(tmp_path: Path) -> list[str]:
    results = tmp_path / "results"
    return sorted(p.name for p in results.iterdir()) if results.exists() else []


# 1. Every stage is prepared, and every stage's name checked, before the first stage runs.

STAGED = """
name: staged
trainable: {kind: function, function: "toy_trainables:quadratic"}
objective: {metric: loss, mode: min}
search: {strategy: random, num_samples: 3, seed: 1, space: {x: {uniform: [0, 1]}}}
scheduler: {type: none}
stages:
  - name: coarse
  - name: fine
    search: {strategy: STRATEGY, num_samples: 2}
"""


def test_a_bad_second_stage_is_refused_before_the_first_runs(tmp_path, capsys):
    path = function_recipe(tmp_path, STAGED.replace("STRATEGY", "annealing"))
    assert main(["run", str(path)]) == 2
    line = error_line(capsys)
    assert line.startswith("error: stages[1] (fine): search.strategy: unknown search strategy")
    assert stored(tmp_path) == [], "stage coarse did not run"


def test_a_taken_stage_name_is_refused_before_the_first_runs(tmp_path, capsys):
    path = function_recipe(tmp_path, STAGED.replace("STRATEGY", "bayesian"))
    manifest = take(tmp_path / "results", "staged", path)  # the last stage's experiment
    before = manifest.read_text()
    assert main(["run", str(path)]) == 2
    assert "experiment 'staged' already exists in" in error_line(capsys)
    assert stored(tmp_path) == ["staged"], "stage coarse did not run"
    assert manifest.read_text() == before


COUNTING_LOADER = """
from pathlib import Path

from sklearn.datasets import load_iris


def load(calls):
    with Path(calls).open("a") as f:
        f.write("called\\n")
    return load_iris(return_X_y=True)
"""


def test_stages_load_their_data_once_and_are_warm_started_on_it(tmp_path, monkeypatch):
    (tmp_path / "counting_loader.py").write_text(COUNTING_LOADER)
    monkeypatch.syspath_prepend(str(tmp_path))
    calls = tmp_path / "calls.txt"
    body = STAGED.replace("STRATEGY", "bayesian").replace(
        "objective:",
        f'data: {{loader: "counting_loader:load", params: {{calls: "{calls}"}}}}\nobjective:',
    )
    recipe = load_recipe(function_recipe(tmp_path, body))
    ran = []

    def run_experiment(prepared, location, options, *, overwrite=False):
        assert len(calls.read_text().splitlines()) == 1, "every stage prepared at the start"
        ran.append(prepared)
        return SimpleNamespace(trials=1, best=None)

    def points(recipe, space):
        return ({"x": 0.25},) if recipe.search.warm_start else ()

    monkeypatch.setattr(stages, "run_experiment", run_experiment)
    monkeypatch.setattr(stages, "load_manifest", lambda location: {})
    monkeypatch.setattr(stages, "write_manifest", lambda location, manifest: None)
    monkeypatch.setattr(prepare, "warm_start_points", points)
    runs = run_stages(recipe, lambda title, prepared: RunOptions())
    assert [run.warm_started_from for run in runs] == [None, "staged.coarse"]
    coarse, fine = ran
    assert fine.recipe.search.warm_start.experiment == "staged.coarse"
    assert fine.settings.initial_points == ({"x": 0.25},)
    assert fine.shared is coarse.shared, "the stages share one load of the data"
    assert len(calls.read_text().splitlines()) == 1


# 2. Nested CV's folds are made when the data is loaded.

TINY_DATA = """
import numpy as np


def load():
    return np.arange(16.0).reshape(8, 2), np.array([0, 1] * 4)
"""

NESTED = """
name: nested-tiny
trainable: {kind: sklearn, estimator: sklearn.linear_model.LogisticRegression}
data: {loader: "tiny_data:load"}
objective: {metric: accuracy, mode: max}
search: {num_samples: 2, space: {C: {loguniform: [0.1, 10.0]}}}
validation: {strategy: nested, outer_folds: OUTER, inner: {strategy: kfold, folds: INNER}}
scheduler: {type: none}
"""


def nested_recipe(tmp_path: Path, outer: int, inner: int) -> Path:
    (tmp_path / "tiny_data.py").write_text(TINY_DATA)
    body = NESTED.replace("OUTER", str(outer)).replace("INNER", str(inner))
    path = tmp_path / "nested.yaml"
    path.write_text(textwrap.dedent(body) + f"storage: {tmp_path / 'results'}\n")
    return path


@pytest.mark.parametrize("command", [["run"], ["validate", "--load-data"]])
def test_more_outer_folds_than_rows_is_one_line_naming_outer_folds(tmp_path, capsys, command):
    path = nested_recipe(tmp_path, outer=10, inner=2)
    assert main([*command, str(path)]) == 2
    line = error_line(capsys)
    assert line.startswith("error: validation.outer_folds: "), line
    assert "n_splits=10 greater than the number of samples: n_samples=8" in line
    assert stored(tmp_path) == []


def test_more_inner_folds_than_outer_training_rows_is_one_line(tmp_path, capsys):
    path = nested_recipe(tmp_path, outer=2, inner=5)
    assert main(["run", str(path)]) == 2
    line = error_line(capsys)
    assert line.startswith("error: validation.inner: outer fold 0 trains on 4 rows: "), line
    assert stored(tmp_path) == []


def test_a_taken_outer_fold_name_is_refused_before_the_first_fold_runs(
    tmp_path, capsys, monkeypatch
):
    path = nested_recipe(tmp_path, outer=2, inner=2)
    monkeypatch.syspath_prepend(str(tmp_path))
    take(tmp_path / "results", "nested-tiny.outer-1", path)
    assert main(["run", str(path)]) == 2
    assert "experiment 'nested-tiny.outer-1' already exists in" in error_line(capsys)
    assert stored(tmp_path) == ["nested-tiny.outer-1"]


# 3. The sklearn trainable reports once per split: a scheduler's max_t is the number of splits.

SKLEARN = """
name: folds
trainable: {kind: sklearn, estimator: sklearn.linear_model.LogisticRegression,
            params: {max_iter: 200}}
data: {loader: "sklearn.datasets:load_iris"}
objective: {metric: accuracy, mode: max}
search: {num_samples: 2, space: {C: {loguniform: [0.1, 10.0]}}}
validation: {strategy: kfold, folds: 3}
"""

NOTE = "scheduler.max_t set to 3, the folds the sklearn trainable reports"


def sklearn_recipe(tmp_path: Path, scheduler: str | None = None, extra: str = "") -> Path:
    path = tmp_path / "folds.yaml"
    section = f"scheduler: {scheduler}\n" if scheduler else ""
    text = textwrap.dedent(SKLEARN) + section + extra + f"storage: {tmp_path / 'results'}\n"
    path.write_text(text)
    return path


@pytest.mark.parametrize("scheduler", [None, "{type: asha, grace_period: 1}", "{type: asha}"])
def test_max_t_left_out_is_the_number_of_folds_and_a_note_says_so(tmp_path, scheduler):
    recipe = load_recipe(sklearn_recipe(tmp_path, scheduler))
    prepared = prepare_recipe(recipe)
    assert prepared.recipe.scheduler.max_t == 3
    assert prepared.notes == (NOTE,)
    location = ExperimentLocation(Storage.open(recipe.storage), recipe.name)
    compiled = compile_experiment(prepared.recipe, prepared.plugins, prepared.plan, location)
    assert compiled.tune_config.scheduler._max_t == 3
    stored_recipe = new_manifest(location, prepared.recipe, prepared.plugins)["recipe"]
    assert stored_recipe["scheduler"]["max_t"] == 3, "the manifest stores what ran"
    again = prepare_recipe(validate_recipe(stored_recipe, "manifest.json"))
    assert again.recipe.scheduler.max_t == 3 and again.notes == (), "a resume keeps it, quietly"


def test_validate_with_the_data_prints_the_note_once(tmp_path, capsys):
    assert main(["validate", str(sklearn_recipe(tmp_path)), "--load-data"]) == 0
    assert capsys.readouterr().err.splitlines() == [f"note: {NOTE}"]


def test_a_run_says_the_note_once_for_experiments_prepared_alike(tmp_path, capsys):
    prepared = prepare_recipe(load_recipe(sklearn_recipe(tmp_path)))
    output = RunOutput("json")
    for experiment in ("folds.outer-0", "folds"):
        output.callbacks(prepared, experiment, "title", set())
    assert capsys.readouterr().err.splitlines() == [f"note: {NOTE}"]
    RunOutput("quiet").callbacks(prepared, "folds", "title", set())
    assert capsys.readouterr().err == ""


def test_max_t_given_as_the_number_of_folds_needs_no_note(tmp_path):
    prepared = prepare_recipe(load_recipe(sklearn_recipe(tmp_path, "{type: asha, max_t: 3}")))
    assert prepared.recipe.scheduler.max_t == 3 and prepared.notes == ()


@pytest.mark.parametrize(
    ("scheduler", "message"),
    [
        ("{type: asha, max_t: 10}",
         "scheduler.max_t: 10, but the sklearn trainable reports once per fold and validation "
         "gives 3 splits; set scheduler.max_t: 3 (or leave it out)"),
        ("{type: asha, grace_period: 4}",
         "scheduler.grace_period: 4, but the sklearn trainable reports once per fold and "
         "validation gives 3 splits; set it to at most 3"),
        ("{type: median, grace_period: 4}",
         "scheduler.grace_period: 4, but the sklearn trainable reports once per fold and "
         "validation gives 3 splits; set it to at most 3"),
    ],
)  # fmt: skip
def test_a_scheduler_the_folds_cannot_fill_is_refused(tmp_path, capsys, scheduler, message):
    path = sklearn_recipe(tmp_path, scheduler)
    for command in (["validate", "--load-data"], ["run"]):
        assert main([*command, str(path)]) == 2
        assert error_line(capsys) == f"error: {message}"
    assert stored(tmp_path) == []


def test_each_stage_fits_max_t_to_its_own_folds(tmp_path):
    stages_section = """
    stages:
      - name: coarse
      - name: fine
        validation: {strategy: kfold, folds: 5}
    """
    recipe = load_recipe(sklearn_recipe(tmp_path, extra=textwrap.dedent(stages_section)))
    assert prepare_recipe(recipe).notes == (), "the stages run, each with its own folds"
    coarse, fine = prepare_stages(recipe)
    assert (coarse.recipe.scheduler.max_t, fine.recipe.scheduler.max_t) == (3, 5)
    assert fine.notes == (
        "stages[1] (fine): scheduler.max_t set to 5, the folds the sklearn trainable reports",
    )


# 3b. The torch trainable reports once per epoch: max_t is its epochs, ASHA's grace a tenth.

TORCH = """
name: epochs
trainable: {kind: torch, model: mlp, epochs: 20}
data: {loader: "sklearn.datasets:load_digits"}
objective: {metric: accuracy, mode: max}
search: {num_samples: 2, space: {hidden: 8}}
"""


def torch_recipe(tmp_path: Path, scheduler: str | None = None, space: str = "") -> Path:
    text = textwrap.dedent(TORCH).replace("hidden: 8", f"hidden: 8{space}")
    section = f"scheduler: {scheduler}\n" if scheduler else ""
    path = tmp_path / "epochs.yaml"
    path.write_text(text + section + f"storage: {tmp_path / 'results'}\n")
    return path


def test_max_t_and_grace_left_out_follow_the_epochs_and_a_note_says_so(tmp_path):
    recipe = load_recipe(torch_recipe(tmp_path))
    prepared = prepare_recipe(recipe, load_data=False)
    assert (prepared.recipe.scheduler.max_t, prepared.recipe.scheduler.grace_period) == (20, 2)
    assert prepared.notes == (
        "scheduler.max_t set to 20, the epochs the torch trainable trains; "
        "scheduler.grace_period set to 2, a tenth of max_t, in epochs",
    )
    location = ExperimentLocation(Storage.open(recipe.storage), recipe.name)
    compiled = compile_experiment(prepared.recipe, prepared.plugins, prepared.plan, location)
    brackets = compiled.tune_config.scheduler._brackets
    assert compiled.tune_config.scheduler._max_t == 20
    assert [rung[0] for rung in brackets[0]._rungs] == [18, 6, 2], "rungs at 2, 6 and 18 epochs"
    stored_recipe = new_manifest(location, prepared.recipe, prepared.plugins)["recipe"]
    again = prepare_recipe(validate_recipe(stored_recipe, "manifest.json"), load_data=False)
    assert again.recipe.scheduler == prepared.recipe.scheduler and again.notes == ()


@pytest.mark.parametrize(
    ("scheduler", "space", "fitted"),
    [
        ("{type: asha, grace_period: 1}", "", (20, 1)),  # a grace given is kept
        ("{type: asha, max_t: 50}", "", (50, 5)),  # a tenth of the max_t given
        ("{type: asha, max_t: 8, grace_period: 3}", "", (8, 3)),  # both given: no note
        (None, ", epochs: {choice: [5, 40]}", (100, 1)),  # tuned epochs: as written
    ],
)  # fmt: skip
def test_what_the_recipe_gives_is_kept(tmp_path, scheduler, space, fitted):
    recipe = load_recipe(torch_recipe(tmp_path, scheduler, space))
    section = prepare_recipe(recipe, load_data=False).recipe.scheduler
    assert (section.max_t, section.grace_period) == fitted


def test_hyperband_takes_the_epochs_as_max_t(tmp_path):
    recipe = load_recipe(torch_recipe(tmp_path, "{type: hyperband}"))
    prepared = prepare_recipe(recipe, load_data=False)
    assert prepared.recipe.scheduler.max_t == 20
    assert prepared.notes == ("scheduler.max_t set to 20, the epochs the torch trainable trains",)


def test_a_grace_period_past_the_epochs_is_refused(tmp_path, capsys):
    path = torch_recipe(tmp_path, "{type: asha, grace_period: 30}")
    assert main(["run", str(path)]) == 2
    assert error_line(capsys) == (
        "error: scheduler.grace_period: 30, but the torch trainable trains 20 epochs; set it to "
        "at most 20"
    )
    assert stored(tmp_path) == []


def test_a_function_trainable_keeps_the_schedulers_defaults(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    body = """
    name: plain
    trainable: {kind: function, function: "toy_trainables:quadratic"}
    objective: {metric: loss, mode: min}
    search: {num_samples: 2, space: {x: {uniform: [-1, 1]}}}
    """
    prepared = prepare_recipe(load_recipe(function_recipe(tmp_path, body)), load_data=False)
    assert (prepared.recipe.scheduler.max_t, prepared.recipe.scheduler.grace_period) == (100, 1)


# 4. ``validate`` imports what the recipe names and calls none of it; --load-data calls the loader.

MARKER_LOADER = """
from pathlib import Path

from sklearn.datasets import load_iris


def load(marker):
    Path(marker).write_text("the loader ran")
    return load_iris(return_X_y=True)
"""


def test_validate_calls_the_loader_only_with_load_data(tmp_path, capsys):
    (tmp_path / "marker_loader.py").write_text(MARKER_LOADER)
    marker = tmp_path / "marker"
    path = sklearn_recipe(tmp_path)
    path.write_text(
        path.read_text().replace(
            '"sklearn.datasets:load_iris"',
            json.dumps("marker_loader:load") + f", params: {{marker: {json.dumps(str(marker))}}}",
        )
    )
    assert main(["validate", str(path)]) == 0, capsys.readouterr().err
    assert not marker.exists(), "validate called the loader"
    assert "· data not loaded (--load-data checks it)" in capsys.readouterr().out
    assert main(["validate", str(path), "--load-data"]) == 0, capsys.readouterr().err
    assert marker.read_text() == "the loader ran"
    assert "data not loaded" not in capsys.readouterr().out


def test_validate_without_the_data_still_finds_the_loader(tmp_path, capsys):
    path = sklearn_recipe(tmp_path)
    path.write_text(path.read_text().replace("sklearn.datasets:load_iris", "no_such_module:load"))
    assert main(["validate", str(path)]) == 2
    assert error_line(capsys).startswith("error: data.loader: ")


def test_validate_runs_no_shell_command_a_loader_names(tmp_path, capsys):
    marker = tmp_path / "marker"
    path = sklearn_recipe(tmp_path)
    loader = f'"os:system", params: {{command: "touch {marker}"}}'
    path.write_text(path.read_text().replace('"sklearn.datasets:load_iris"', loader))
    assert main(["validate", str(path)]) == 0, capsys.readouterr().err
    assert not marker.exists()


def test_a_stage_error_names_the_stage(tmp_path):
    recipe = load_recipe(function_recipe(tmp_path, STAGED.replace("STRATEGY", "annealing")))
    with pytest.raises(PluginError, match=r"^stages\[1\] \(fine\): search\.strategy: unknown"):
        prepare_stages(recipe, load_data=False)
