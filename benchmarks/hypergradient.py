"""Gradient-based search (BENCHMARKS.md section 5): per-feature L2 on ridge regression.

A linear model with one L2 coefficient per feature (20 or 40 hyperparameters), 60 training
rows, most features noise. Compared at equal problem and code:

- tunefw's ``hypergradient`` strategy: one trial, ``HypergradientSearch.drive`` exactly as a
  Ray worker runs it, from every coefficient at 1;
- standalone Optuna TPE and random search over the same coefficients (log-uniform), each trial
  a full training of the same ``linear`` trainable at fixed coefficients (L-BFGS to
  convergence).

Compute is counted in full-training equivalents: one TPE trial is one full training, so the
unit is the mean seconds of a full training inside the TPE study (TPE's own sampling time is
reported apart, and not counted); the hypergradient's seconds up to a step, divided by that
unit, are its cost. The goal: the hypergradient reaches TPE's 100-trial validation loss with
at most 1/5 of TPE's compute (20 full trainings).

    python -m benchmarks.hypergradient            # 20 and 40 coefficients, 3 seeds
    python -m benchmarks.hypergradient --quick    # 20 coefficients, 1 seed, 40 TPE trials
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
import optuna
import torch
from sklearn.datasets import make_regression

from benchmarks.common import emit
from tunefw.plugin_api.bilevel_problem import BilevelProblem
from tunefw.plugin_api.context import TrialContext
from tunefw.plugin_api.protocols import Dataset, Split
from tunefw.recipe.space import LogUniform
from tunefw_plugins.search.hypergradient.strategy import HypergradientSearch
from tunefw_plugins.trainables.linear import LinearTrainable

N_TRAIN, N_VALID = 60, 400
LOW, HIGH = 1e-4, 1e3


def problem_data(features: int, seed: int) -> tuple[Dataset, Split]:
    X, y = make_regression(
        n_samples=N_TRAIN + N_VALID,
        n_features=features,
        n_informative=max(3, features // 5),
        noise=30.0,
        random_state=seed,
    )
    return Dataset(X, y), Split(np.arange(N_TRAIN), np.arange(N_TRAIN, N_TRAIN + N_VALID))


def context(data: Dataset, split: Split, l2: float, reports: list[Any]) -> TrialContext:
    return TrialContext(
        config={"l2": l2},
        metric="loss",
        reporter=lambda metrics, state: reports.append(metrics),
        data=data,
        splits=(split,),
        seed=0,
    )


def full_training(problem: BilevelProblem, l2: torch.Tensor, epochs: int = 20) -> float:
    """Train to convergence at fixed coefficients; the validation loss."""
    weights = {k: t.clone().requires_grad_(True) for k, t in problem.weights.items()}
    optimizer = problem.optimizer(list(weights.values()))
    hyper = {"l2": l2}

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = problem.train_loss(weights, hyper)
        loss.backward()
        return loss.detach()

    for _ in range(epochs):
        optimizer.step(closure)
    with torch.no_grad():
        return float(problem.val_loss({k: t.detach() for k, t in weights.items()}, hyper))


def run_sampler(
    name: str, trainable: LinearTrainable, data: Dataset, split: Split, trials: int, seed: int
) -> tuple[list[float], float, float]:
    """Per-trial validation losses, training seconds and total seconds of an Optuna study."""
    problem = trainable.bilevel(context(data, split, 1.0, []), ["l2"])
    features = data.X.shape[1]
    sampler = (
        optuna.samplers.TPESampler(seed=seed)
        if name == "tpe"
        else optuna.samplers.RandomSampler(seed=seed)
    )
    study = optuna.create_study(sampler=sampler)

    training = [0.0]

    def objective(trial: optuna.Trial) -> float:
        values = [trial.suggest_float(f"l2_{i}", LOW, HIGH, log=True) for i in range(features)]
        started = time.perf_counter()
        loss = full_training(problem, torch.tensor(values, dtype=torch.float64))
        training[0] += time.perf_counter() - started
        return loss

    started = time.perf_counter()
    study.optimize(objective, n_trials=trials)
    return [t.value for t in study.trials], training[0], time.perf_counter() - started


def run_hypergradient(
    trainable: LinearTrainable, data: Dataset, split: Split, steps: int
) -> tuple[list[float], list[float]]:
    """Validation loss after each outer step, and the seconds spent up to it."""
    strategy = HypergradientSearch(HypergradientSearch.Params(steps=steps))
    space = {"l2": LogUniform.model_validate({"loguniform": [LOW, HIGH]})}
    losses: list[float] = []
    times: list[float] = []
    started = time.perf_counter()

    def report(metrics: dict[str, Any], state: Any) -> None:
        losses.append(metrics["loss"])
        times.append(time.perf_counter() - started)

    ctx = context(data, split, 1.0, [])
    ctx.reporter = report
    strategy.drive(ctx, trainable, space)
    return losses, times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sizes, seeds, trials, steps = (
        ([20], [0], 40, 40) if args.quick else ([20, 40], [0, 1, 2], 100, 60)
    )
    trainable = LinearTrainable(LinearTrainable.Params(task="regression", l2_per="feature"))
    for features in sizes:
        for seed in seeds:
            data, split = problem_data(features, seed)
            tpe, tpe_train_s, tpe_s = run_sampler("tpe", trainable, data, split, trials, seed)
            rnd, _, _ = run_sampler("random", trainable, data, split, trials, seed)
            hg, hg_times = run_hypergradient(trainable, data, split, steps)
            unit_s = tpe_train_s / trials  # one full training
            target = min(tpe)
            reached = next((i for i, loss in enumerate(hg) if loss <= target), None)
            cost = None if reached is None else hg_times[reached] / unit_s
            emit(
                "hypergradient",
                features=features,
                seed=seed,
                trials=trials,
                outer_steps=steps,
                tpe_best=target,
                random_best=min(rnd),
                hypergradient_best=min(hg),
                full_training_s=unit_s,
                tpe_sampler_overhead_s=tpe_s - tpe_train_s,
                hypergradient_cost_full_trainings=hg_times[-1] / unit_s,
                hypergradient_steps_to_tpe_best=None if reached is None else reached + 1,
                hypergradient_cost_to_tpe_best=cost,
                ratio_to_tpe_compute=None if cost is None else cost / trials,
            )


if __name__ == "__main__":
    main()
