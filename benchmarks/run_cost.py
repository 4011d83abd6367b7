"""What one small run costs: CPU-seconds of the whole machine and wall seconds for a run of 2
trials of the overhead benchmark's workload (10 reports of a closed-form loss, ASHA), on a
Ray that is already up. A run's fixed cost (a fresh worker process for each trial actor, the
imports on both sides, Ray Tune's set-up) is most of what the test suite spends (issue 18)
and of a first result's wait (issue 17's time to a target).

tunefw (every result in Parquet) against hand-tuned Ray Tune (``reuse_actors``, its auto
loggers off): ``benchmarks.overhead``'s contenders, in turn. One unmeasured run of each goes
first, so each side's driver has imported what it needs and the figures are a run's own.
Medians are compared:

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

from benchmarks.common import arguments, emit, run_tunefw, start_ray
from benchmarks.overhead import raw_ray_tune, recipe

TRIALS = 2
SETTLE_S = 1.0
"""Waited after each run, so the ended actors' exits are counted with their run."""


def busy_cpu_seconds() -> float:
    """CPU-seconds the whole machine has been busy (all processes, Ray's included)."""
    with open("/proc/stat") as stat:
        fields = [int(v) for v in stat.readline().split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def tunefw_run(storage: Path) -> None:
    run_tunefw(recipe(TRIALS), storage)


def ray_tune_run(storage: Path) -> None:
    raw_ray_tune(TRIALS, storage, hand_tuned=True)


def measured(run: Callable[[Path], None], storage: Path) -> tuple[float, float]:
    """CPU-seconds and wall seconds of one run."""
    cpu, wall = busy_cpu_seconds(), time.perf_counter()
    run(storage)
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
                cpu, wall = measured(run, Path(tmp) / f"{name.replace(' ', '-')}-{index}")
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
