"""The ``smac`` strategy beyond the search contract (test_plugin_contracts): its space, its
priors, several objectives, what it refuses, and the one line when its extra is missing."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from tunefw.errors import RecipeError, SpaceError
from tunefw.recipe.objective import Constraint
from tunefw_plugins.search.smac_search import SmacSearch
from tunefw_plugins.search.smac_space import config_space

from .test_auto_search import NUMERIC, branin, drive, settings, space_of


def smac_plan(space, trials, **extra):
    return SmacSearch(SmacSearch.Params(n_initial=3)).plan(space, settings(trials, **extra))


def test_the_space_keeps_kinds_conditions_and_priors():
    space = space_of(
        lr={"loguniform": [1e-4, 1.0], "prior": 1e-2},
        batch={"choice": [64, 16, 32]},
        kernel={"choice": ["rbf", "poly"], "prior": "poly", "confidence": "high"},
        gamma={"uniform": [0, 1], "when": {"kernel": "rbf"}},
        tol={"uniform": [0, 1], "step": 0.25},
        fixed=3,
    )
    cs = config_space(space, seed=0)
    assert list(cs["batch"].sequence) == [16, 32, 64], "numbers are ordered"
    assert list(cs["tol"].sequence) == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert "fixed" not in cs
    draws = cs.sample_configuration(400)
    logs = np.log10([c["lr"] for c in draws])
    assert abs(np.median(logs) + 2) < 0.25 and 0.6 < np.std(logs) < 1.0, "medium: 0.2 of 4 decades"
    assert np.mean([c["kernel"] == "poly" for c in draws]) > 0.75
    assert all(("gamma" in c) == (c["kernel"] == "rbf") for c in draws)


def test_smac_learns_from_the_model_and_from_stored_trials():
    plan = smac_plan(NUMERIC, 25)
    configs = drive(plan, 25)
    assert min(branin(c) for c in configs[15:]) < min(branin(c) for c in configs[:3])
    taught = smac_plan(NUMERIC, 25)
    for config in configs[:10]:
        taught.search_alg.learn(config, {"loss": branin(config)})
    taught.search_alg.learn({"x": 99.0, "y": 1.0, "batch": 16}, {"loss": 1.0})  # outside: skipped
    assert len(taught.search_alg._facade().runhistory) == 10


def test_several_objectives_and_errored_trials():
    plan = smac_plan(NUMERIC, 8, objectives={"loss": "min", "size": "min"})
    for i in range(8):
        config = plan.search_alg.suggest(f"t{i}")
        error = i == 2
        result = None if error else {"loss": branin(config), "size": config["batch"]}
        plan.search_alg.on_trial_complete(f"t{i}", result, error=error)
    history = plan.search_alg._facade().runhistory
    assert len(history) == 8
    assert sum(v.status.name == "CRASHED" for v in history._data.values()) == 1


def test_what_smac_refuses():
    with pytest.raises(RecipeError, match="smac cannot take constraints"):
        smac_plan(NUMERIC, 4, constraints=(Constraint.model_validate("size <= 3"),))
    with pytest.raises(SpaceError, match="grid visits every value"):
        smac_plan(space_of(x={"grid": [1, 2]}), 4)


def test_without_the_extra_validate_says_how_to_install_it(tmp_path):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(
        textwrap.dedent(
            f"""
            name: needs-smac
            trainable: {{kind: sklearn, estimator: sklearn.svm.SVC}}
            data: {{loader: "sklearn.datasets:load_iris"}}
            objective: {{metric: accuracy, mode: max}}
            search: {{strategy: smac, space: {{C: {{loguniform: [0.1, 10]}}}}}}
            storage: {tmp_path / "results"}
            """
        )
    )
    hide_smac = (
        "import sys; sys.modules['smac'] = None; from tunefw.cli.main import main; "
        f"sys.exit(main(['validate', {str(recipe)!r}]))"
    )
    done = subprocess.run([sys.executable, "-c", hide_smac], capture_output=True, text=True)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert lines == ["error: search.strategy: smac needs SMAC3: pip install 'tunefw[smac]'"]
    assert not (tmp_path / "results").exists()
