"""The contract every plugin of a kind must honour, as plain assertions.

tunefw's own tests run each built-in plugin through these; a plugin package can call the same
functions from its tests (as Optuna's samplers share ``optuna.testing``).
"""

from __future__ import annotations

import itertools
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
from pydantic import BaseModel, ValidationError

from tunefw.errors import PluginError
from tunefw.plugin_api.capabilities import (
    Differentiable,
    NestedValidation,
    ReportsEpochs,
    Resumable,
    StartsWorkers,
)
from tunefw.plugin_api.context import Reporter, TrialContext
from tunefw.plugin_api.protocols import Dataset, SearchSettings, Split
from tunefw.prepare.nested_folds import subset
from tunefw.recipe.space import ParamSpec


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

    from tunefw.running.compile import concurrency_limit

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
    """Its splits are non-empty, disjoint, inside the data and the same each time; a
    ``NestedValidation`` strategy's outer splits too, and its ``inner`` strategy's on each
    outer fold's training rows."""
    strategy = build(cls, params)
    _check_splits(strategy.splits, data, strategy.n_splits(data))
    if isinstance(strategy, NestedValidation):
        outer = _check_splits(strategy.outer_splits, data)
        for split in outer:
            rows = subset(data, split.train)
            _check_splits(strategy.inner.splits, rows, strategy.inner.n_splits(rows))


def _check_splits(
    make: Callable[[Dataset], Sequence[Split]], data: Dataset, expected: int | None = None
) -> list[Split]:
    splits = list(make(data))
    assert len(splits) >= 1 and (expected is None or len(splits) == expected)
    for split in splits:
        assert len(split.train) and len(split.valid), "no split may be empty"
        assert not np.intersect1d(split.train, split.valid).size, "train and valid overlap"
        assert max(split.train.max(), split.valid.max()) < len(data)
    again = list(make(data))
    assert all(np.array_equal(a.valid, b.valid) for a, b in zip(splits, again, strict=True)), (
        "splits must be deterministic for fixed params"
    )
    return splits


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
    """Run one trial; it must report the objective's metric at least once. A ``Resumable``
    trainable that reported several states must go on from its first (not start over); a
    ``Differentiable`` one must give a problem whose losses are finite scalars that depend on
    the config's differentiable keys; one that ``ReportsEpochs`` reports at most its epochs;
    one that ``StartsWorkers`` names each worker's resources as positive amounts."""
    trainable = build(cls, params)
    reports: list[dict[str, Any]] = []
    states: list[Any] = []

    def reporter(metrics: dict[str, Any], state: Any) -> None:
        reports.append(metrics)
        if state is not None:
            states.append(state)

    ctx = make_context(reporter)
    run = trainable.run
    run(ctx)
    assert reports, "a trial must report at least once"
    assert all(ctx.metric in r for r in reports)
    first = list(reports)
    if isinstance(trainable, Resumable) and len(states) > 1:
        run(replace(make_context(reporter), restored=states[0]))
        resumed = len(reports) - len(first)
        assert 0 < resumed < len(first), "restored from its first state, it must go on from it"
    if isinstance(trainable, Differentiable):
        _check_differentiable(trainable, make_context(reporter))
    if isinstance(trainable, ReportsEpochs):
        epochs = trainable.epochs({})
        assert isinstance(epochs, int) and epochs >= 1, "without a space, epochs are known"
        assert len(first) <= epochs, "one report per epoch, at most"
    if isinstance(trainable, StartsWorkers):
        bundles = trainable.worker_bundles()
        assert all(a > 0 for b in bundles for a in b.values()), "amounts held are positive"
    return first


def _check_differentiable(trainable: Differentiable, ctx: TrialContext) -> None:
    import torch

    can = trainable.differentiable(ctx.regularizers)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in can.items())
    names = [n for n in can if n in ctx.config]
    if not names:
        return
    problem = trainable.bilevel(ctx, names)
    assert set(problem.shapes) == set(names), "one shape per differentiable hyperparameter"
    hyper = {
        n: torch.full(shape, float(ctx.config[n]), dtype=torch.float64, requires_grad=True)
        for n, shape in problem.shapes.items()
    }
    for loss in (problem.train_loss, problem.val_loss):
        value = loss(problem.weights, hyper)
        assert value.ndim == 0 and torch.isfinite(value), "a loss is one finite number"
    train = problem.train_loss(problem.weights, hyper)
    grads = torch.autograd.grad(train, list(hyper.values()), allow_unused=True)
    assert any(g is not None for g in grads), "the training loss must depend on them"
