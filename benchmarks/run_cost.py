"""What one small run costs: CPU-seconds of the whole machine and wall seconds for a run of 2
trials of a cheap function, one trial actor (``max_concurrent: 1``, actors reused), on a Ray
that is already up. A run's fixed cost (a fresh worker process for its trial actor, the
imports on both sides, Ray Tune's set-up) is most of what the test suite spends (issue 18)
and of a first result's wait (issue 17's time to a target).

tunefw (every result in Parquet) against hand-written Ray Tune (``reuse_actors``, its auto
loggers off), in turn; one unmeasured run of each first, so each side's driver has imported
what it needs and the figures are a run's own. Medians are compared:

    python -m benchmarks.run_cost            # 7 runs each
    python -m benchmarks.run_cost --quick    # 2 runs each
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from ray import tune

from benchmarks.common import arguments, emit, run_tunefw, start_ray
from benchmarks.workloads import raw_reports

TRIALS, REPORTS = 2, 3
SETTLE_S = 1.0
"""Waited after each run, so the ended actor's exit is counted with its run."""


def busy_cpu_seconds() -> float:
    """CPU-seconds the whole machine has been busy (all processes, Ray's included)."""
    with open("/proc/stat") as stat:
        fields = [int(v) for v in stat.readline().split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def tunefw_run(storage: Path, index: int) -> None:
    run_tunefw(
        {
            "name": f"cost-{index}",
            "trainable": {"kind": "function", "function": "benchmarks.workloads:tunefw_reports"},
            "objective": {"metric": "loss", "mode": "min"},
            "search": {
                "strategy": "random",
                "num_samples": TRIALS,
                "max_concurrent": 1,
                "seed": index,
                "space": {"x": {"uniform": [0, 1]}, "reports": REPORTS},
            },
            "scheduler": {"type": "none"},
        },
        storage,
    )


def ray_tune_run(storage: Path, index: int) -> None:
    os.environ["TUNE_DISABLE_AUTO_CALLBACK_LOGGERS"] = "1"
    tune.Tuner(
        raw_reports,
        param_space={"x": tune.uniform(0, 1), "reports": REPORTS},
        tune_config=tune.TuneConfig(
            metric="loss",
            mode="min",
            num_samples=TRIALS,
            max_concurrent_trials=1,
            reuse_actors=True,
        ),
        run_config=tune.RunConfig(storage_path=str(storage), name=f"raw-{index}", verbose=0),
    ).fit()


def measured(run: Callable[[Path, int], None], storage: Path, index: int) -> tuple[float, float]:
    """CPU-seconds and wall seconds of one run."""
    cpu, wall = busy_cpu_seconds(), time.perf_counter()
    run(storage, index)
    time.sleep(SETTLE_S)
    return busy_cpu_seconds() - cpu, time.perf_counter() - wall - SETTLE_S


def main() -> None:
    args = arguments(__doc__ or "")
    runs = 2 if args.quick else 7
    start_ray(args.address)
    contenders = {"tunefw": tunefw_run, "ray tune": ray_tune_run}
    cost: dict[str, list[tuple[float, float]]] = {name: [] for name in contenders}
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        for index in range(runs + 1):
            for name, run in contenders.items():
                cpu, wall = measured(run, Path(tmp) / name.replace(" ", "-"), index)
                if index:  # the first is each driver's warm-up
                    cost[name].append((cpu, wall))
                    emit("run_cost_run", tool=name, run=index, cpu_s=cpu, wall_s=wall)
    cpu = {name: statistics.median(c for c, _ in runs_) for name, runs_ in cost.items()}
    wall = {name: statistics.median(w for _, w in runs_) for name, runs_ in cost.items()}
    emit(
        "run_cost",
        runs=runs,
        median_cpu_s=cpu,
        median_wall_s=wall,
        tunefw_over_ray_tune_cpu=cpu["tunefw"] / cpu["ray tune"],
        tunefw_over_ray_tune_wall=wall["tunefw"] / wall["ray tune"],
    )


if __name__ == "__main__":
    main()
