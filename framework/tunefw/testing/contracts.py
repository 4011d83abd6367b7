"""The contract every plugin of a kind must honour, as plain assertions.

tunefw's own tests run each built-in plugin through these; a plugin package can call the same
functions from its tests (as Optuna's samplers share ``optuna.testing``).
"""

from __future__ import annotations

import itertools
import tempfile
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from pydantic import BaseModel, ValidationError

from tunefw.context import Reporter, TrialContext
from tunefw.errors import PluginError
from tunefw.protocols import Dataset, SearchSettings
from tunefw.space import ParamSpec


def build(cls: Any, params: Mapping[str, Any]) -> Any:
    """Check the plugin's params model, then build the plugin with ``params``."""
    assert isinstance(cls.Params, type) and issubclass(cls.Params, BaseModel)
    try:
        cls.Params.model_validate({**params, "__no_such_param__": 1})
    except ValidationError:
        pass
    else:
        raise AssertionError(f"{cls.__name__}.Params accepts unknown fields; use extra='forbid'")
    return cls(cls.Params.model_validate(dict(params)))


def check_search_strategy(
    cls: Any, params: Mapping[str, Any], space: Mapping[str, ParamSpec], num_samples: int = 6
) -> list[dict[str, Any]]:
    """Run the strategy's plan through Ray Tune (Ray must be running), twice, one at a time.

    Every config must hold exactly the active parameters, each inside its range; the same
    seed must give the same configs in the same order; and no two trials may overlap, though
    each asks for half a CPU. Returns the configs of the first run.
    """
    first = _run_plan(cls, params, space, num_samples)
    assert len(first) >= min(num_samples, 2), "the plan must start trials"
    for config in first:
        assert set(config) == {n for n, s in space.items() if s.active(config)}, (
            f"{config} must hold exactly the parameters active in it"
        )
        for name, value in config.items():
            assert space[name].contains(value), f"{name}={value!r} is outside the space"
    again = _run_plan(cls, params, space, num_samples)
    assert again == first, "the same seed must replay the same configs"
    return first


def _run_plan(
    cls: Any, params: Mapping[str, Any], space: Mapping[str, ParamSpec], num_samples: int
) -> list[dict[str, Any]]:
    from ray import tune

    from tunefw.compile import concurrency_limit

    settings = SearchSettings(
        num_samples=num_samples, max_concurrent=1, seed=0, metric="score", mode="max"
    )
    plan = build(cls, params).plan(space, settings)
    with tempfile.TemporaryDirectory() as storage:
        tuner = tune.Tuner(
            tune.with_resources(_timed_objective, {"cpu": 0.5}),
            param_space=plan.param_space,
            tune_config=tune.TuneConfig(
                metric="score",
                mode="max",
                num_samples=plan.num_samples,
                search_alg=plan.search_alg,
                max_concurrent_trials=concurrency_limit(plan, settings.max_concurrent),
                reuse_actors=True,
            ),
            run_config=tune.RunConfig(storage_path=storage, verbose=0),
        )
        grid = tuner.fit()
    runs = sorted(
        ((grid[i].metrics or {}, grid[i].config or {}) for i in range(len(grid))),
        key=lambda run: float(run[0]["started"]),
    )
    for (before, _), (after, _) in itertools.pairwise(runs):
        assert after["started"] >= before["ended"], "max_concurrent=1, yet trials overlapped"
    return [dict(config) for _, config in runs]


def _timed_objective(config: dict[str, Any]) -> None:
    from ray import tune

    started = time.time()
    time.sleep(0.05)
    numbers = [float(v) for v in config.values() if isinstance(v, (int, float))]
    tune.report(
        {"score": -sum((x - 0.5) ** 2 for x in numbers), "started": started, "ended": time.time()}
    )


def check_validation_strategy(cls: Any, params: Mapping[str, Any], data: Dataset) -> None:
    strategy = build(cls, params)
    splits = list(strategy.splits(data))
    assert len(splits) == strategy.n_splits(data) >= 1
    for split in splits:
        assert len(split.train) and len(split.valid), "no split may be empty"
        assert not np.intersect1d(split.train, split.valid).size, "train and valid overlap"
        assert max(split.train.max(), split.valid.max()) < len(data)
    again = list(strategy.splits(data))
    assert all(np.array_equal(a.valid, b.valid) for a, b in zip(splits, again, strict=True)), (
        "splits must be deterministic for fixed params"
    )


def check_regularizer(
    cls: Any,
    params: Mapping[str, Any],
    make_target: Callable[[], Any],
    unsupported: object,
    snapshot: Callable[[Any], Any] = lambda target: target.get_params(),
) -> None:
    """``snapshot`` reads what the regularizer sets on a target (sklearn: its params)."""
    regularizer = build(cls, params)
    hyper = regularizer.hyperparameters()
    assert hyper, "a regularizer adds at least one hyperparameter"
    regularizer.check(make_target())
    low, high = (
        regularizer.apply(make_target(), {k: s.grid_values(2)[end] for k, s in hyper.items()})
        for end in (0, -1)
    )
    assert snapshot(low) != snapshot(make_target()), "apply must change the target"
    if any(len(s.grid_values(2)) > 1 for s in hyper.values()):
        assert snapshot(low) != snapshot(high), "apply must set the config's values"
    try:
        regularizer.check(unsupported)
    except PluginError:
        return
    raise AssertionError("check must refuse a target it cannot regularize")


def check_trainable(
    cls: Any,
    params: Mapping[str, Any],
    make_context: Callable[[Reporter], TrialContext],
) -> list[dict[str, Any]]:
    """Run one trial; it must report the objective's metric at least once."""
    trainable = build(cls, params)
    reports: list[dict[str, Any]] = []
    ctx = make_context(lambda metrics, state: reports.append(metrics))
    trainable.run(ctx)
    assert reports, "a trial must report at least once"
    assert all(ctx.metric in r for r in reports)
    return reports
