"""BENCHMARKS.md section 2, results loading: tunefw's Parquet store against Ray Tune's files.

The same workload (trials x reports of a cheap curve, no early stopping) runs through raw Ray
Tune with its default loggers and through tunefw. Then every reported row is loaded back:
through ``ExperimentAnalysis`` (result.json/progress.csv per trial), through a ``ResultGrid``
restored from disk (each trial's metrics dataframe), and through ``tunefw.open_results``.

    python -m benchmarks.results_loading --quick     # 100 trials x 100 reports
    python -m benchmarks.results_loading             # 1,000 trials x 100 reports
"""

from __future__ import annotations

import gc
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import ray
from ray import tune
from ray.tune import ExperimentAnalysis

import tunefw
from benchmarks.common import arguments, dir_bytes, emit, run_tunefw
from benchmarks.workloads import raw_reports
from tunefw.running.ray_connection import start_embedded_ray

T = TypeVar("T")
REPEATS = 5  # each loader: a warm-up, then the median of five loads of the same files


def timed(fn: Callable[[], T], repeats: int = 0) -> tuple[T, float]:
    """``fn()``'s value and wall time: one call, or a warm-up and the median of ``repeats``."""
    if repeats:
        fn()
    times = []
    for _ in range(max(repeats, 1)):
        gc.collect()  # no loader pays for collecting another's garbage
        started = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - started)
    return value, statistics.median(times)


def run_both(work: Path, trials: int, reports: int) -> tuple[float, float]:
    """The same workload through raw Ray Tune (default loggers) and tunefw; wall seconds."""
    start_embedded_ray(num_cpus=os.cpu_count())
    raw_dir = work / "raw"
    os.environ.pop("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", None)  # Ray's own files, as by default
    _, raw_run = timed(
        lambda: tune.Tuner(
            raw_reports,
            param_space={"x": tune.uniform(0, 1), "reports": reports},
            tune_config=tune.TuneConfig(num_samples=trials, reuse_actors=True),
            run_config=tune.RunConfig(storage_path=str(raw_dir), name="raw", verbose=0),
        ).fit()
    )
    recipe = {
        "name": "loading",
        "trainable": {"kind": "function", "function": "benchmarks.workloads:tunefw_reports"},
        "objective": {"metric": "loss", "mode": "min"},
        "search": {
            "strategy": "random",  # as raw Ray Tune samples
            "num_samples": trials,
            "space": {"x": {"uniform": [0, 1]}, "reports": reports},
        },
        "scheduler": {"type": "none"},
    }
    _, tunefw_run = run_tunefw(recipe, work / "tunefw")
    return raw_run, tunefw_run


def main() -> None:
    args = arguments(__doc__ or "")
    trials, reports = (100, 100) if args.quick else (1000, 100)
    work = Path(args.workdir or tempfile.mkdtemp(prefix="tunefw-bench-"))
    raw_dir = work / "raw"
    if (raw_dir / "raw").exists() and (work / "tunefw" / "loading").exists():
        raw_run = tunefw_run = float("nan")  # --workdir of an earlier run: measure loading only
    else:
        raw_run, tunefw_run = run_both(work, trials, reports)
    ray.shutdown()  # nothing runs while the loaders are timed

    analysis_rows, analysis_s = timed(
        lambda: sum(
            len(df) for df in ExperimentAnalysis(str(raw_dir / "raw")).trial_dataframes.values()
        ),
        REPEATS,
    )
    grid_rows, grid_s = timed(
        lambda: sum(
            len(r.metrics_dataframe)
            for r in tune.Tuner.restore(str(raw_dir / "raw"), raw_reports).get_results()
        ),
        REPEATS,
    )
    table, tunefw_s = timed(lambda: tunefw.open_results(str(work / "tunefw"), "loading"), REPEATS)
    ray_bytes = dir_bytes(raw_dir / "raw")
    parquet_bytes = dir_bytes(work / "tunefw" / "loading" / "results")
    assert table.num_rows == trials * reports == analysis_rows == grid_rows, (
        table.num_rows,
        analysis_rows,
        grid_rows,
    )
    emit(
        "results_loading",
        rows=table.num_rows,
        tunefw_load_s=round(tunefw_s, 4),
        experiment_analysis_load_s=round(analysis_s, 3),
        result_grid_load_s=round(grid_s, 3),
        speedup_vs_experiment_analysis=round(analysis_s / tunefw_s, 1),
        speedup_vs_result_grid=round(grid_s / tunefw_s, 1),
        ray_bytes=ray_bytes,
        parquet_bytes=parquet_bytes,
        bytes_ratio=round(ray_bytes / parquet_bytes, 1),
        raw_run_s=round(raw_run, 1),
        tunefw_run_s=round(tunefw_run, 1),
    )


if __name__ == "__main__":
    main()
