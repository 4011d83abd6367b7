"""Per-trial overhead (BENCHMARKS.md section 1): tunefw against raw Ray Tune and Optuna.

200 trials x 10 reports of a cheap closed-form loss, ASHA (grace 1, max_t 10), one embedded
Ray with every CPU. In one run, each in turn:

- raw Ray Tune with its defaults (fresh actors, JSON/CSV/TensorBoard loggers);
- raw Ray Tune hand-tuned: ``reuse_actors=True`` and the auto loggers off;
- tunefw, every result in Parquet;
- tunefw in lean mode (``lean: {configs_per_trial: 25}``: the trainable is declared cheap,
  so 25 configs share a Ray Tune trial; ASHA still decides per config, each stored as a trial);
- Optuna in-process, ``study.optimize`` with the ``SuccessiveHalvingPruner``.

Prints trials/s for each and tunefw's ratio to each reference. The machine is shared and
noisy (one run to the next differs by up to 25 %), so hand-tuned Ray Tune and both tunefw
modes run in turn ``repeats`` times and the medians are compared.

    python -m benchmarks.overhead --quick     # 12 trials, once (raw defaults: 4)
    python -m benchmarks.overhead             # 200 trials, 5 times each (raw defaults: 60, once)

Raw defaults run fewer trials: at under one trial a second, 200 would take minutes; trials/s
is the figure, and it does not depend on the count at that rate.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import optuna
from ray import tune
from ray.tune.schedulers import ASHAScheduler

from benchmarks.common import arguments, emit, run_tunefw, start_ray
from benchmarks.workloads import loss_at, raw_reports

REPORTS = 10
LEAN_CONFIGS = 25


def raw_ray_tune(trials: int, storage: Path, hand_tuned: bool) -> float:
    """Wall seconds of raw Ray Tune on the workload."""
    if hand_tuned:
        os.environ["TUNE_DISABLE_AUTO_CALLBACK_LOGGERS"] = "1"
    else:
        os.environ.pop("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", None)
    started = time.perf_counter()
    tune.Tuner(
        raw_reports,
        param_space={"x": tune.uniform(0, 1), "reports": REPORTS},
        tune_config=tune.TuneConfig(
            metric="loss",
            mode="min",
            num_samples=trials,
            scheduler=ASHAScheduler(max_t=REPORTS, grace_period=1, reduction_factor=3),
            reuse_actors=hand_tuned,
        ),
        run_config=tune.RunConfig(storage_path=str(storage), name="raw", verbose=0),
    ).fit()
    return time.perf_counter() - started


def recipe(trials: int, lean: int | None = None) -> dict[str, Any]:
    """The workload as a tunefw recipe; ``lean`` configs per Ray Tune trial, if given."""
    packing = {"lean": {"configs_per_trial": lean}} if lean else {}
    return {
        "name": "overhead",
        "trainable": {"kind": "function", "function": "benchmarks.workloads:tunefw_reports"},
        "objective": {"metric": "loss", "mode": "min"},
        "search": {
            "strategy": "random",  # as raw Ray Tune samples
            "num_samples": trials,
            "space": {"x": {"uniform": [0, 1]}, "reports": REPORTS},
        },
        "scheduler": {"type": "asha", "max_t": REPORTS, "grace_period": 1, "reduction_factor": 3},
        **packing,
    }


def tunefw_run(trials: int, storage: Path, lean: int | None = None) -> float:
    """Trials/s of tunefw on the workload (a trial is a config, in lean mode too)."""
    summary, seconds = run_tunefw(recipe(trials, lean), storage)
    assert summary.trials == trials and summary.errored == 0, summary
    return trials / seconds


def optuna_in_process(trials: int) -> float:
    def objective(trial: optuna.Trial) -> float:
        config = {"x": trial.suggest_float("x", 0, 1)}
        for step in range(1, REPORTS + 1):
            loss = loss_at(config, step)["loss"]
            trial.report(loss, step)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return loss

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        sampler=optuna.samplers.RandomSampler(seed=0),
        pruner=optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3),
    )
    started = time.perf_counter()
    study.optimize(objective, n_trials=trials)
    return trials / (time.perf_counter() - started)


def main() -> None:
    args = arguments(__doc__ or "")
    trials = 12 if args.quick else 200
    default_trials = 4 if args.quick else 60
    work = Path(args.workdir or tempfile.mkdtemp(prefix="tunefw-bench-"))
    start_ray(args.address)
    repeats = 1 if args.quick else 5
    defaults = default_trials / raw_ray_tune(default_trials, work / "raw-defaults", False)
    hand_tuned_runs, our_runs, lean_runs = [], [], []
    for i in range(repeats):
        seconds = raw_ray_tune(trials, work / f"raw-hand-tuned-{i}", hand_tuned=True)
        hand_tuned_runs.append(trials / seconds)
        our_runs.append(tunefw_run(trials, work / f"tunefw-{i}"))
        lean_runs.append(tunefw_run(trials, work / f"tunefw-lean-{i}", LEAN_CONFIGS))
    hand_tuned, ours = statistics.median(hand_tuned_runs), statistics.median(our_runs)
    lean = statistics.median(lean_runs)
    in_process = optuna_in_process(trials)
    emit(
        "overhead",
        trials=trials,
        reports=REPORTS,
        repeats=repeats,
        lean_configs_per_trial=LEAN_CONFIGS,
        tunefw_runs=[round(r, 1) for r in our_runs],
        tunefw_lean_runs=[round(r, 1) for r in lean_runs],
        raw_hand_tuned_runs=[round(r, 1) for r in hand_tuned_runs],
        tunefw_trials_per_s=round(ours, 2),
        tunefw_lean_trials_per_s=round(lean, 2),
        raw_defaults_trials_per_s=round(defaults, 2),
        raw_hand_tuned_trials_per_s=round(hand_tuned, 2),
        optuna_in_process_trials_per_s=round(in_process, 1),
        tunefw_vs_raw_defaults=round(ours / defaults, 1),
        tunefw_vs_raw_hand_tuned=round(ours / hand_tuned, 2),
        tunefw_vs_optuna_in_process=round(ours / in_process, 3),
        tunefw_lean_vs_raw_defaults=round(lean / defaults, 1),
        tunefw_lean_vs_raw_hand_tuned=round(lean / hand_tuned, 2),
        tunefw_lean_vs_optuna_in_process=round(lean / in_process, 3),
    )


if __name__ == "__main__":
    main()
