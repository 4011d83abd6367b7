"""Ordered parameters and priors: parsed and refused as the recipe gives them, and seen by the
Optuna samplers as positions and beliefs (real Optuna, driven as Ray Tune drives a Searcher)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pydantic import TypeAdapter, ValidationError

from tunefw.plugin_api.protocols import SearchSettings
from tunefw.recipe.space import Choice, Ordinal, ParamSpec, geometric
from tunefw_plugins.search._optuna import distribution
from tunefw_plugins.search.bayesian import BayesianSearch
from tunefw_plugins.search.cmaes import CmaEsSearch
from tunefw_plugins.search.priors import StartSampler

PARAM = TypeAdapter(ParamSpec)


def spec(value):
    return PARAM.validate_python(value)


def space_of(**params):
    return {name: spec(value) for name, value in params.items()}


def drive(searcher, trials, score):
    """Ray Tune's calls at max_concurrent 1: suggest, then complete with the score."""
    configs = []
    for i in range(trials):
        config = searcher.suggest(f"t{i}")
        searcher.on_trial_complete(f"t{i}", {"score": score(config), "training_iteration": 1})
        configs.append(config)
    return configs


def settings(trials, seed=0, **extra):
    return SearchSettings(
        num_samples=trials, max_concurrent=1, seed=seed, metric="score", mode="max", **extra
    )


@pytest.mark.parametrize(
    ("written", "order"),
    [
        ({"ordinal": [128, 16, 64, 32]}, [16, 32, 64, 128]),
        ({"ordinal": ["small", "medium", "large"]}, ["small", "medium", "large"]),
        ({"choice": [1.0e-2, 1.0e-4, 1.0e-3]}, [1.0e-4, 1.0e-3, 1.0e-2]),
        ({"choice": [1.0e-2, 1.0e-4], "ordered": False}, None),
        ({"choice": ["rbf", "linear"]}, None),
        ({"choice": ["low", "high"], "ordered": True}, ["low", "high"]),
        ({"choice": [True, False]}, None),
        ({"choice": [3]}, None),
    ],
)
def test_numbers_are_ordered_unless_said_otherwise(written, order):
    assert spec(written).order() == order


def test_an_ordered_parameter_keeps_its_values_and_types():
    batch = spec({"choice": [64, 16, 32]})
    assert isinstance(batch, Choice) and batch.grid_values(None) == [64, 16, 32]
    assert str(batch.arrow_type()) == "int64"
    assert batch.model_dump(by_alias=True) == {"choice": [64, 16, 32]}, "dumped as written"
    width = spec({"ordinal": [0.5, 1, 2]})
    assert isinstance(width, Ordinal) and str(width.arrow_type()) == "double"
    assert geometric([16, 32, 64, 128]) and geometric([1e-4, 1e-3, 1e-2])
    assert not geometric([10, 20, 30]) and not geometric(["a", "b", "c"])


@pytest.mark.parametrize(
    ("written", "message"),
    [
        ({"ordinal": [16]}, "at least 2 items"),
        ({"ordinal": [1, "a"]}, "all numbers or all strings, got int/str"),
        ({"ordinal": [1, 1, 2]}, "must be distinct"),
        ({"choice": [1, "a"], "ordered": True}, "all numbers or all strings"),
        ({"loguniform": [1e-4, 1e-1], "prior": 1.0}, "prior 1.0 is outside the parameter"),
        ({"int": [1, 8], "prior": 2.5}, "prior 2.5 is outside the parameter (int [1, 8])"),
        ({"choice": [16, 32], "prior": 24}, "prior 24 is outside the parameter (values [16, 32])"),
        ({"grid": [1, 2], "prior": 1}, "grid visits every value, so it takes no prior"),
        ({"uniform": [0, 1], "confidence": "high"}, "confidence is given without a prior"),
        ({"uniform": [0, 1], "prior": 0.5, "confidence": "sure"}, "'low', 'medium' or 'high'"),
    ],
)
def test_bad_ordinals_and_priors_are_refused(written, message):
    with pytest.raises(ValidationError, match=None) as raised:
        spec(written)
    assert message in str(raised.value)


def test_optuna_sees_an_ordered_parameter_as_its_position():
    space = space_of(batch={"choice": [128, 16, 32, 64]}, kernel={"choice": ["rbf", "poly"]})
    assert distribution(space["batch"]).__class__.__name__ == "IntDistribution"
    assert distribution(space["kernel"]).__class__.__name__ == "CategoricalDistribution"
    plan = BayesianSearch(BayesianSearch.Params(n_startup_trials=3)).plan(
        space, settings(8, initial_points=({"batch": 64},))
    )
    configs = drive(plan.search_alg, 8, lambda c: -abs(math.log2(c["batch"]) - 5))
    assert configs[0]["batch"] == 64, "the warm-start value, translated to its position"
    assert all(c["batch"] in (16, 32, 64, 128) for c in configs), "configs get the values"
    study = plan.search_alg._ot_study
    assert study.trials[0].params["batch"] == 2, "Optuna holds the position: 64 is third"
    plan.search_alg.learn({"batch": 32, "kernel": "poly"}, {"score": 0.0})
    assert study.trials[-1].params == {"batch": 1, "kernel": "poly"}


def test_cmaes_searches_an_ordinal_by_position_and_still_refuses_categories():
    space = space_of(width={"ordinal": [16, 32, 64, 128, 256]}, lr={"loguniform": [1e-4, 1]})
    plan = CmaEsSearch(CmaEsSearch.Params()).plan(space, settings(12))
    configs = drive(plan.search_alg, 12, lambda c: -abs(c["width"] - 64) - abs(c["lr"] - 0.01))
    assert {c["width"] for c in configs} <= {16, 32, 64, 128, 256}
    with pytest.raises(Exception, match="cmaes samples numbers, not categories"):
        CmaEsSearch(CmaEsSearch.Params()).plan(
            space_of(act={"choice": ["relu", "tanh"]}), settings(4)
        )


def test_the_first_trials_are_drawn_around_the_prior():
    space = space_of(
        lr={"loguniform": [1e-5, 1.0], "prior": 1e-3, "confidence": "high"},
        batch={"ordinal": [8, 16, 32, 64, 128, 256, 512], "prior": 256},
        act={"choice": ["relu", "tanh", "gelu", "elu"], "prior": "gelu", "confidence": "high"},
        free={"uniform": [0.0, 1.0]},
    )
    plan = BayesianSearch(BayesianSearch.Params(n_startup_trials=64)).plan(space, settings(64))
    configs = drive(plan.search_alg, 64, lambda c: 0.0)
    logs = np.log10([c["lr"] for c in configs])
    assert abs(np.median(logs) + 3) < 0.3 and np.std(logs) < 0.6, "high confidence: narrow"
    assert np.median([c["batch"] for c in configs]) in (128, 256, 512)
    assert sum(c["act"] == "gelu" for c in configs) > 64 * 0.7
    free = sorted(c["free"] for c in configs)
    assert free[6] < 0.2 and free[-7] > 0.8, "no prior: spread over the whole range"


def test_start_points_depend_only_on_the_trial_number():
    space = space_of(x={"uniform": [0, 1]}, y={"int": [1, 9], "prior": 5})
    first, again = StartSampler(space, seed=3), StartSampler(space, seed=3)
    assert np.array_equal(first._point(7), again._point(7))
    assert not np.array_equal(first._point(7), StartSampler(space, seed=4)._point(7))


@pytest.mark.parametrize("sampler", ["tpe", "gp"])
def test_model_based_suggestions_lean_towards_the_prior(sampler):
    """On a flat objective the model has nothing to go on, so the prior decides (that the
    evidence overrides a misleading prior is measured in benchmarks/search_efficiency)."""
    space = {"x": spec({"uniform": [0.0, 1.0], "prior": 0.9, "confidence": "high"})}
    params = BayesianSearch.Params(sampler=sampler, n_startup_trials=2)
    plan = BayesianSearch(params).plan(space, settings(30))
    near = [abs(c["x"] - 0.9) < 0.25 for c in drive(plan.search_alg, 30, lambda c: 0.0)]
    without = BayesianSearch(params).plan({"x": spec({"uniform": [0.0, 1.0]})}, settings(30))
    near_without = [abs(c["x"] - 0.9) < 0.25 for c in drive(without.search_alg, 30, lambda c: 0.0)]
    assert sum(near[2:12]) >= 8 > sum(near_without[2:12]), (near, near_without)
