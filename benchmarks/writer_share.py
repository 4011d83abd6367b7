"""The result writer's share of wall time, on BENCHMARKS.md section 1's workload.

200 trials x 10 reports of a cheap curve, ASHA (grace 1, max_t 10), embedded Ray. Time spent
inside the Parquet writer (its callbacks, flushes and the final compaction) is summed and
divided by the run's wall time. Hand-tuned raw Ray Tune (reuse_actors, auto loggers off) runs
the same workload in the same process for reference.

    python -m benchmarks.writer_share --quick     # 60 trials
    python -m benchmarks.writer_share             # 200 trials
"""

from __future__ import annotations

import functools
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import tunefw.running.runner
from benchmarks.common import arguments, emit, run_tunefw, start_ray
from benchmarks.overhead import raw_ray_tune, recipe
from tunefw.running.result_writer import ResultWriter

ENTRY_POINTS = (
    "on_trial_result",
    "on_trial_complete",
    "on_trial_error",
    "on_step_end",
    "get_state",
    "close",
)


class Stopwatch:
    """Sums the time spent in wrapped functions (not nested: flush runs inside them)."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def wrap(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - started

        return timed


def main() -> None:
    args = arguments(__doc__ or "")
    trials = 60 if args.quick else 200
    work = Path(args.workdir or tempfile.mkdtemp(prefix="tunefw-bench-"))
    start_ray(args.address)

    raw_s = raw_ray_tune(trials, work / "raw", hand_tuned=True)

    watch = Stopwatch()
    for name in ENTRY_POINTS:
        setattr(ResultWriter, name, watch.wrap(getattr(ResultWriter, name)))
    tunefw.running.runner.compact = watch.wrap(tunefw.running.runner.compact)
    summary, tunefw_s = run_tunefw(recipe(trials), work / "tunefw")
    emit(
        "writer_share",
        trials=trials,
        rows=summary.rows,
        tunefw_wall_s=round(tunefw_s, 2),
        writer_s=round(watch.seconds, 3),
        writer_share=round(watch.seconds / tunefw_s, 4),
        hand_tuned_ray_wall_s=round(raw_s, 2),
        tunefw_vs_hand_tuned_trials_per_s=round(raw_s / tunefw_s, 2),
    )


if __name__ == "__main__":
    main()
