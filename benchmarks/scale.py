"""Scale (BENCHMARKS.md section 2): 10,000 trials x 1 report, tunefw against raw Ray Tune.

Both run the same one-report trainable on one embedded Ray with every CPU; raw Ray Tune is
hand-tuned (``reuse_actors``, auto loggers off); tunefw runs in both modes, ordinary and lean
(100 configs per Ray Tune trial). For each, in one run:

- driver RSS growth per trial: the driver's resident memory after the run minus before, over
  the trials;
- flatness: the mean time between trial completions over the last tenth of the trials divided
  by that over the first tenth (1,000 and 1,000 at full size).

    python -m benchmarks.scale --quick     # 100 trials
    python -m benchmarks.scale             # 10,000 trials
"""

from __future__ import annotations

import gc
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from ray import tune

from benchmarks.common import arguments, emit, run_tunefw, start_ray
from benchmarks.workloads import raw_reports
from tunefw.prepare.pack_payload import ended_in, pack_of

LEAN_CONFIGS = 100


def rss_bytes() -> int:
    """This process's resident set size, from /proc."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


class Completions(tune.Callback):
    """When each trial completed, by the driver's clock; in lean mode, each config, when the
    pack's result carrying it arrived."""

    def __init__(self) -> None:
        self.times: list[float] = []

    def on_trial_result(
        self, iteration: int, trials: list[Any], trial: Any, result: dict[str, Any], **info: Any
    ) -> None:
        self.times += [time.perf_counter()] * len(ended_in(result))

    def on_trial_complete(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        if pack_of(trial.config) is None:
            self.times.append(time.perf_counter())


def flatness(times: list[float], window: int) -> float:
    """Mean gap between completions in the last ``window`` over that in the first."""
    first = (times[window] - times[0]) / window
    last = (times[-1] - times[-window - 1]) / window
    return last / first


def measured(run: Any, trials: int) -> dict[str, float]:
    """Run ``run(completions)``; the figures of the section."""
    completions = Completions()
    gc.collect()
    before = rss_bytes()
    started = time.perf_counter()
    run(completions)
    seconds = time.perf_counter() - started
    gc.collect()
    grown = rss_bytes() - before
    assert len(completions.times) == trials, (len(completions.times), trials)
    return {
        "trials_per_s": round(trials / seconds, 2),
        "rss_growth_kb_per_trial": round(grown / trials / 1024, 2),
        "last_vs_first_per_trial": round(flatness(completions.times, trials // 10), 3),
    }


def main() -> None:
    args = arguments(__doc__ or "")
    trials = 100 if args.quick else 10_000
    per_pack = 5 if args.quick else LEAN_CONFIGS  # the first tenth must span several packs
    work = Path(args.workdir or tempfile.mkdtemp(prefix="tunefw-bench-"))
    start_ray(args.address)
    os.environ["TUNE_DISABLE_AUTO_CALLBACK_LOGGERS"] = "1"

    def raw(completions: Completions) -> None:
        tune.Tuner(
            raw_reports,
            param_space={"x": tune.uniform(0, 1), "reports": 1},
            tune_config=tune.TuneConfig(
                metric="loss", mode="min", num_samples=trials, reuse_actors=True
            ),
            run_config=tune.RunConfig(
                storage_path=str(work / "raw"), name="raw", verbose=0, callbacks=[completions]
            ),
        ).fit()

    def ours(completions: Completions, lean: int | None = None) -> None:
        packing = {"lean": {"configs_per_trial": lean}} if lean else {}
        recipe = {
            "name": "scale",
            "trainable": {"kind": "function", "function": "benchmarks.workloads:tunefw_reports"},
            "objective": {"metric": "loss", "mode": "min"},
            "search": {
                "strategy": "random",  # as raw Ray Tune samples
                "num_samples": trials,
                "space": {"x": {"uniform": [0, 1]}, "reports": 1},
            },
            "scheduler": {"type": "none"},
            **packing,
        }
        storage = work / ("tunefw-lean" if lean else "tunefw")
        summary, _ = run_tunefw(recipe, storage, callbacks=[completions])
        assert summary.trials == trials and summary.errored == 0, summary

    raw_figures = measured(raw, trials)
    tunefw_figures = measured(ours, trials)
    lean_figures = measured(lambda completions: ours(completions, per_pack), trials)
    emit(
        "scale",
        trials=trials,
        lean_configs_per_trial=per_pack,
        **{f"tunefw_{k}": v for k, v in tunefw_figures.items()},
        **{f"tunefw_lean_{k}": v for k, v in lean_figures.items()},
        **{f"raw_{k}": v for k, v in raw_figures.items()},
        tunefw_vs_raw_trials_per_s=round(
            tunefw_figures["trials_per_s"] / raw_figures["trials_per_s"], 2
        ),
        tunefw_lean_vs_raw_trials_per_s=round(
            lean_figures["trials_per_s"] / raw_figures["trials_per_s"], 2
        ),
    )


if __name__ == "__main__":
    main()
