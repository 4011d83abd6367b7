"""The search space: parsing, bounds checks, grid values, Arrow types and Ray Tune domains."""

from __future__ import annotations

import pyarrow as pa
import pytest
from pydantic import TypeAdapter, ValidationError
from ray.tune.search.sample import Categorical, Float, Integer

from tunefw.errors import SpaceError
from tunefw.recipe.space import (
    Choice,
    Constant,
    Grid,
    IntRange,
    LogInt,
    LogUniform,
    ParamSpec,
    Uniform,
    tune_param_space,
)

PARAM = TypeAdapter(ParamSpec)


@pytest.mark.parametrize(
    ("raw", "cls"),
    [
        ({"uniform": [0, 1]}, Uniform),
        ({"loguniform": [1e-3, 1]}, LogUniform),
        ({"int": [1, 5]}, IntRange),
        ({"logint": [1, 64]}, LogInt),
        ({"choice": ["a", "b"]}, Choice),
        ({"grid": [1, 2, 3]}, Grid),
        ("rbf", Constant),
        (3, Constant),
        (True, Constant),
    ],
)
def test_each_kind_parses_and_round_trips(raw, cls):
    spec = PARAM.validate_python(raw)
    assert isinstance(spec, cls)
    dumped = PARAM.dump_python(spec, by_alias=True)
    assert PARAM.validate_python(dumped) == spec


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"uniform": [1, 1]}, "empty or inverted range"),
        ({"uniform": [2, 1]}, "empty or inverted range"),
        ({"int": [5, 1]}, "empty or inverted range"),
        ({"loguniform": [0, 1]}, "log-scale bounds must be > 0"),
        ({"logint": [-1, 8]}, "log-scale bounds must be > 0"),
        ({"normal": [0, 1]}, "expected a constant or one of"),
        ({"choice": []}, "at least 1 item"),
        ([1, 2], "expected a constant or one of"),
    ],
)
def test_bad_params_are_refused(raw, message):
    with pytest.raises(ValidationError, match=message):
        PARAM.validate_python(raw)


def test_domains_sample_within_bounds():
    space = {
        "lr": PARAM.validate_python({"loguniform": [1e-4, 1e-1]}),
        "layers": PARAM.validate_python({"int": [1, 3]}),
        "act": PARAM.validate_python({"choice": ["relu", "tanh"]}),
        "fixed": PARAM.validate_python(7),
    }
    domains = tune_param_space(space)
    assert isinstance(domains["lr"], Float)
    assert isinstance(domains["layers"], Integer)
    assert isinstance(domains["act"], Categorical)
    assert domains["fixed"] == 7
    samples = domains["layers"].sample(size=200, random_state=0)
    assert set(samples) == {1, 2, 3}, "int ranges include both ends"
    lrs = domains["lr"].sample(size=200, random_state=0)
    assert min(lrs) >= 1e-4 and max(lrs) <= 1e-1


def test_grid_values():
    assert PARAM.validate_python({"int": [1, 4]}).grid_values(None) == [1, 2, 3, 4]
    assert PARAM.validate_python({"loguniform": [1, 100]}).grid_values(3) == pytest.approx(
        [1, 10, 100]
    )
    with pytest.raises(SpaceError, match="has no finite grid"):
        PARAM.validate_python({"uniform": [0, 1]}).grid_values(None)


def test_arrow_types_follow_values():
    assert PARAM.validate_python({"uniform": [0, 1]}).arrow_type() == pa.float64()
    assert PARAM.validate_python({"int": [0, 1]}).arrow_type() == pa.int64()
    assert PARAM.validate_python({"choice": ["a", "b"]}).arrow_type() == pa.string()
    assert PARAM.validate_python({"choice": [1, 2.5]}).arrow_type() == pa.float64()
    assert PARAM.validate_python({"choice": [True, False]}).arrow_type() == pa.bool_()
    assert PARAM.validate_python({"choice": [1, "auto"]}).arrow_type() == pa.string()
