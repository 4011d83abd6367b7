"""The ``auto`` strategy: which method each trial gets, that it is named, that a resumed study
asks for what an uninterrupted one would, and that it runs (real Optuna, driven as Ray Tune
drives a Searcher; its runs through tunefw are in test_search_strategies and
test_killed_driver)."""

from __future__ import annotations

import math

import pytest
from pydantic import TypeAdapter

from tunefw.plugin_api.protocols import SearchSettings
from tunefw.recipe.objective import Constraint
from tunefw.recipe.space import ParamSpec
from tunefw_plugins.search.auto import AutoSearch

PARAM = TypeAdapter(ParamSpec)


def space_of(**params):
    return {name: PARAM.validate_python(value) for name, value in params.items()}


NUMERIC = space_of(
    x={"uniform": [-5.0, 10.0]}, y={"uniform": [0.0, 15.0]}, batch={"choice": [16, 32, 64]}
)


def branin(config):
    x1, x2 = config["x"], config["y"]
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


def settings(trials, **extra):
    base = {"num_samples": trials, "max_concurrent": 1, "seed": 0, "metric": "loss", "mode": "min"}
    return SearchSettings(**(base | extra))


def plan_of(space, trials, params=None, **extra):
    return AutoSearch(AutoSearch.Params(**(params or {}))).plan(space, settings(trials, **extra))


def drive(plan, trials, score=branin, start=0):
    configs = []
    for i in range(start, start + trials):
        config = plan.search_alg.suggest(f"t{i}")
        result = {"loss": score(config), "training_iteration": 1}
        plan.search_alg.on_trial_complete(f"t{i}", result)
        configs.append(config)
    return configs


def methods(plan, trials, start=0):
    return [plan.suggested_by(f"t{i}") for i in range(start, start + trials)]


def test_a_numeric_space_starts_with_sobol_then_a_gp_then_cmaes_on_a_long_budget():
    plan = plan_of(NUMERIC, 16, {"gp_trials": 10, "explore_every": None})
    drive(plan, 16)
    assert methods(plan, 16) == ["sobol"] * 4 + ["gp"] * 6 + ["cmaes"] * 6, "4 = dimensions + 1"


def test_every_eighth_trial_after_the_start_is_a_sobol_point():
    plan = plan_of(NUMERIC, 22, {"gp_trials": 19})
    drive(plan, 22)
    start, model = ["sobol"] * 4, ["gp"] * 7
    assert methods(plan, 22) == [*start, *model, "sobol", *model, "sobol", "cmaes", "cmaes"]


@pytest.mark.parametrize(
    ("space", "expected"),
    [
        (
            space_of(kernel={"choice": ["rbf", "poly"]}, gamma={"uniform": [0, 1]}),
            ["sobol"] * 4 + ["gp"] * 7 + ["sobol"],
        ),
        (
            space_of(
                kernel={"choice": ["rbf", "poly"]},
                gamma={"loguniform": [1e-3, 1.0], "when": {"kernel": "rbf"}},
            ),
            ["sobol"] * 10 + ["tpe"] * 2,
        ),
        (
            space_of(a={"choice": ["x", "y"]}, b={"choice": ["u", "v"]}, c={"uniform": [0, 1]}),
            ["sobol"] * 10 + ["tpe"] * 2,
        ),
    ],
    ids=["mixed", "conditional", "mostly-categorical"],
)
def test_conditional_and_mostly_categorical_spaces_go_to_tpe_after_a_longer_start(space, expected):
    plan = plan_of(space, 12)
    drive(plan, 12, score=lambda c: abs(float(c.get("gamma", 0.5)) - 0.37))
    assert methods(plan, 12) == expected


def test_several_objectives_use_the_gp_and_nsga2_on_a_long_budget():
    objectives = {"loss": "min", "size": "min"}

    def score(config):
        return branin(config)

    short = plan_of(NUMERIC, 6, objectives=objectives)
    for i in range(6):
        config = short.search_alg.suggest(f"t{i}")
        result = {"loss": branin(config), "size": config["batch"], "training_iteration": 1}
        short.search_alg.on_trial_complete(f"t{i}", result)
    assert methods(short, 6) == ["sobol"] * 4 + ["gp"] * 2
    long = plan_of(NUMERIC, 400, objectives=objectives)
    long.search_alg.suggest("t0")
    assert long.suggested_by("t0") == "nsga2"


def test_warm_start_points_come_first_and_are_named():
    plan = plan_of(NUMERIC, 6, initial_points=({"x": 1.0, "y": 2.0, "batch": 32},))
    configs = drive(plan, 6)
    assert configs[0] == {"x": 1.0, "y": 2.0, "batch": 32}
    assert methods(plan, 6)[0] == "warm_start" and methods(plan, 6)[1:4] == ["sobol"] * 3


def test_a_resumed_study_asks_for_what_an_uninterrupted_one_would():
    whole = plan_of(NUMERIC, 12)
    uninterrupted = drive(whole, 12)
    resumed = plan_of(NUMERIC, 12)
    for config in uninterrupted[:7]:  # as tunefw resume teaches the stored trials
        resumed.search_alg.learn(config, {"loss": branin(config)})
    assert drive(resumed, 5, start=7) == uninterrupted[7:]
    assert methods(resumed, 5, start=7) == ["gp"] * 4 + ["sobol"]


def test_trials_in_flight_get_different_suggestions_from_the_gp():
    plan = plan_of(NUMERIC, 12, max_concurrent=3)
    drive(plan, 6)
    in_flight = [plan.search_alg.suggest(f"r{i}") for i in range(3)]
    assert [plan.suggested_by(f"r{i}") for i in range(3)] == ["gp"] * 3
    assert len({(c["x"], c["y"]) for c in in_flight}) == 3


def test_constraints_reach_the_gp():
    plan = plan_of(NUMERIC, 10, constraints=(Constraint.model_validate("width <= 40"),))
    widths = []
    for i in range(10):
        config = plan.search_alg.suggest(f"t{i}")
        result = {"loss": branin(config), "width": config["batch"], "training_iteration": 1}
        plan.search_alg.on_trial_complete(f"t{i}", result)
        widths.append(config["batch"])
    study = plan.search_alg._ot_study
    violations = [t.constraints.get("width <= 40") for t in study.trials]
    assert violations == [width - 40.0 for width in widths], "each trial told its violation"
    assert any(v > 0 for v in violations) and any(v <= 0 for v in violations)
    assert methods(plan, 10)[-1] == "gp"


def test_a_space_with_a_grid_is_searched_at_random_crossed_with_the_grid():
    space = space_of(x={"uniform": [0, 1]}, folds={"grid": [3, 5]})
    plan = plan_of(space, 4)
    assert plan.param_space["folds"] == {"grid_search": [3, 5]}
    assert plan.suggested_by("any") == "random"
