"""Time to a target (issue 17): the wall time each tool needs until some trial of a small torch
CNN on digits reports a validation accuracy of at least ``--target``.

In one run, in turn, 5 times each (one search seed per round):

- tunefw with its defaults: ``auto`` search, ASHA (Ray Tune underneath, every result in
  Parquet), and ``stop: {target: ...}`` so the study ends once a trial reaches it;
- hand-written Ray Tune: ``OptunaSearch`` (TPE) and ``ASHAScheduler``, stopped the same way;
- Optuna in-process: TPE with its ``MedianPruner``, ``n_jobs=2``, ``study.stop()`` on reaching.

All train the same network (tunefw's built-in ``cnn``: two 3x3 convolutions, a max-pool, a
linear head) with Adam on the same space (``lr``, ``channels``), batch 64, up to 12 epochs, on
standardized 8x8 digits with a stratified 20 % holdout, two trials at a time, one CPU thread
each. The clock starts before each tool starts (Ray is already up for both Ray contenders)
and stops at the first result that reaches the target. Medians are compared, as ratios to
tunefw's.

    python -m benchmarks.time_to_target --quick      # once each
    python -m benchmarks.time_to_target              # 5 times each
    python -m benchmarks.time_to_target --target 0.9861 --trials 200   # each may run 200

Goal: tunefw is fastest.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import torch
from ray import tune
from ray.tune.schedulers import ASHAScheduler
from ray.tune.search.optuna import OptunaSearch
from sklearn.datasets import load_digits
from sklearn.model_selection import StratifiedShuffleSplit

from benchmarks.common import emit, run_tunefw
from benchmarks.workloads import digits_cnn_recipe
from tunefw.running.ray_connection import start_embedded_ray
from tunefw_plugins.trainables.torch_models import SmallCNN

EPOCHS = 12
TRIALS = 60
TARGET = 0.9833
"""354 of the 360 held-out digits: every tool reached it on every seed (5 seeds, 60 trials);
0.9861 was reached by tunefw on 5 seeds, Optuna on 3 and Ray Tune on 1, and 0.9889 by
tunefw on 4 and by neither reference (docs/benchmarks.md)."""
LR = (1e-3, 3e-2)
CHANNELS = [4, 8, 16, 32]


class FirstReach:
    """When the first result at or above the target arrived (seconds since ``start``)."""

    def __init__(self, target: float) -> None:
        self.target = target
        self.started = time.perf_counter()
        self.reached: float | None = None

    def see(self, accuracy: float) -> bool:
        if accuracy >= self.target and self.reached is None:
            self.reached = time.perf_counter() - self.started
        return self.reached is not None


class ReachCallback(tune.Callback):
    def __init__(self, reach: FirstReach) -> None:
        self.reach = reach

    def on_trial_result(
        self, iteration: int, trials: list, trial: Any, result: dict, **info: Any
    ) -> None:
        if "accuracy" in result:
            self.reach.see(float(result["accuracy"]))


class StopAtTarget(tune.Stopper):
    def __init__(self, reach: FirstReach) -> None:
        self.reach = reach

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        return False

    def stop_all(self) -> bool:
        return self.reach.reached is not None


def digits() -> tuple[torch.Tensor, ...]:
    X, y = load_digits(return_X_y=True)
    split = StratifiedShuffleSplit(n_splits=1, test_size=0.2, random_state=0)
    train, valid = next(split.split(X, y))
    X = torch.tensor(X, dtype=torch.float32)
    mean, std = X[train].mean(0), X[train].std(0).clamp_min(1e-6)
    X = (X - mean) / std
    return X, torch.tensor(y), torch.tensor(train), torch.tensor(valid)


def train_epochs(config: dict[str, Any], seed: int) -> Iterator[float]:
    """Yields the validation accuracy after each epoch."""
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    X, y, train, valid = digits()
    model = SmallCNN(64, 10, (1, 8, 8), channels=config["channels"])
    optimizer = torch.optim.Adam(model.parameters(), lr=config["lr"])
    generator = torch.Generator().manual_seed(seed)
    for _ in range(EPOCHS):
        model.train()
        for batch in train[torch.randperm(len(train), generator=generator)].split(64):
            loss = torch.nn.functional.cross_entropy(model(X[batch]), y[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            yield float((model(X[valid]).argmax(1) == y[valid]).float().mean())


def ray_trainable(config: dict[str, Any]) -> None:
    for epoch, accuracy in enumerate(train_epochs(config, 0), start=1):
        tune.report({"accuracy": accuracy, "epoch": epoch})


def tunefw_time(target: float, storage: Path, seed: int, trials: int) -> float | None:
    reach = FirstReach(target)
    search = {
        "num_samples": trials,
        "max_concurrent": 2,
        "seed": seed,
        "space": {"lr": {"loguniform": list(LR)}, "channels": {"choice": CHANNELS}},
    }
    recipe = digits_cnn_recipe("time-to-target", EPOCHS, search)
    recipe["stop"] = {"target": {"value": target}}
    run_tunefw(recipe, storage, callbacks=[ReachCallback(reach)])
    return reach.reached


def ray_tune_time(target: float, storage: Path, seed: int, trials: int) -> float | None:
    reach = FirstReach(target)
    tune.Tuner(
        ray_trainable,
        param_space={"lr": tune.loguniform(*LR), "channels": tune.choice(CHANNELS)},
        tune_config=tune.TuneConfig(
            metric="accuracy",
            mode="max",
            num_samples=trials,
            search_alg=OptunaSearch(seed=seed),
            scheduler=ASHAScheduler(max_t=EPOCHS, grace_period=1, reduction_factor=3),
            max_concurrent_trials=2,
            reuse_actors=True,
        ),
        run_config=tune.RunConfig(
            storage_path=str(storage),
            stop=StopAtTarget(reach),
            callbacks=[ReachCallback(reach)],
            verbose=0,
        ),
    ).fit()
    return reach.reached


def optuna_time(target: float, seed: int, trials: int) -> float | None:
    reach = FirstReach(target)

    def objective(trial: optuna.Trial) -> float:
        config = {
            "lr": trial.suggest_float("lr", *LR, log=True),
            "channels": trial.suggest_categorical("channels", CHANNELS),
        }
        accuracy = 0.0
        for epoch, accuracy in enumerate(train_epochs(config, 0), start=1):
            if reach.see(accuracy):
                trial.study.stop()
                return accuracy
            trial.report(accuracy, epoch)
            if trial.should_prune():
                raise optuna.TrialPruned
        return accuracy

    study = optuna.create_study(
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=optuna.pruners.MedianPruner(),
    )
    study.optimize(objective, n_trials=trials, n_jobs=2)
    return reach.reached


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="once each")
    parser.add_argument("--workdir", default=None, help="where to write (a temp dir by default)")
    parser.add_argument("--target", type=float, default=TARGET, help="validation accuracy")
    parser.add_argument("--trials", type=int, default=TRIALS, help="each tool's trial budget")
    args = parser.parse_args()
    repeats = 1 if args.quick else 5
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    start_embedded_ray(log_to_driver=False)
    times: dict[str, list[float]] = {"tunefw": [], "ray tune": [], "optuna": []}
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        for repeat in range(repeats):
            for name in times:
                where = Path(tmp) / f"{name.replace(' ', '-')}-{repeat}"
                if name == "tunefw":
                    reached = tunefw_time(args.target, where, repeat, args.trials)
                elif name == "ray tune":
                    reached = ray_tune_time(args.target, where, repeat, args.trials)
                else:
                    reached = optuna_time(args.target, repeat, args.trials)
                emit("time_to_target_run", tool=name, repeat=repeat, seconds=reached)
                times[name].append(np.inf if reached is None else reached)
    medians = {name: statistics.median(ts) for name, ts in times.items()}
    emit(
        "time_to_target",
        target=args.target,
        trials=args.trials,
        repeats=repeats,
        median_seconds=medians,
        ray_tune_over_tunefw=medians["ray tune"] / medians["tunefw"],
        optuna_over_tunefw=medians["optuna"] / medians["tunefw"],
    )


if __name__ == "__main__":
    main()
