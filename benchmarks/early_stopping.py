"""What ASHA buys (BENCHMARKS.md section 4): a torch CNN on digits, ASHA against no early stop.

The same recipe runs twice per repeat, in turn: with ``scheduler: asha`` (tunefw's defaults:
``max_t`` the epochs, a grace period of a tenth of them, reduction factor 3; ``--grace-period``
sets another grace) and with ``scheduler: none``. Each repeat is one search seed, and random
search with one seed gives both runs the same configs, so the only difference is the stopping. Per
run: the epochs trained in all (a trial's iterations are its epochs, read from the store),
the wall time, and the best validation accuracy (holdout, 20 % of digits, stratified). The
medians over repeats are compared.

    python -m benchmarks.early_stopping --quick     # 8 trials x 6 epochs, once
    python -m benchmarks.early_stopping             # 54 trials x 20 epochs, 3 seeds
    python -m benchmarks.early_stopping --grace-period 1

Goal: ASHA trains >= 3x fewer epochs and loses < 0.5 points of accuracy.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path
from typing import Any

import pyarrow.compute as pc

from benchmarks.common import emit, run_tunefw
from benchmarks.workloads import digits_cnn_recipe
from tunefw.running.ray_connection import start_embedded_ray
from tunefw.store import columns as col
from tunefw.store.layout import ExperimentLocation, Storage
from tunefw.store.manifest import load_manifest
from tunefw.store.reader import read_results


def recipe(name: str, trials: int, epochs: int, grace: int | None, seed: int) -> dict[str, Any]:
    """The run with ASHA (``grace``: its grace period, tunefw's default if None), or without
    any early stopping (``grace`` 0)."""
    scheduler: dict[str, Any] = {"type": "none"}
    if grace != 0:
        scheduler = {"type": "asha"} | ({} if grace is None else {"grace_period": grace})
    search = {
        "strategy": "random",
        "num_samples": trials,
        "max_concurrent": 2,
        "seed": seed,
        "space": {
            "lr": {"loguniform": [3.0e-4, 3.0e-2]},
            "channels": {"choice": [4, 8, 16, 32]},
        },
    }
    recipe = digits_cnn_recipe(name, epochs, search)
    recipe["regularization"] = [{"name": "dropout", "range": [0.0, 0.5]}]
    recipe["scheduler"] = scheduler
    return recipe


def epochs_trained(storage: Path, name: str) -> int:
    """Every trial's last iteration, summed: the epochs the run trained."""
    table = read_results(ExperimentLocation(Storage.open(str(storage)), name))
    last = table.group_by(col.TRIAL_ID).aggregate([(col.ITERATION, "max")])
    return int(pc.sum(last.column(f"{col.ITERATION}_max")).as_py())


def grace_that_ran(storage: Path, name: str) -> int:
    """The ASHA grace period the run stored in its manifest (tunefw's default fitted, or the
    one given)."""
    manifest = load_manifest(ExperimentLocation(Storage.open(str(storage)), name))
    return int(manifest["recipe"]["scheduler"]["grace_period"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="8 trials x 6 epochs, once")
    parser.add_argument("--workdir", default=None, help="where to write (a temp dir by default)")
    parser.add_argument(
        "--grace-period", type=int, default=None, help="ASHA's (default: a tenth of the epochs)"
    )
    args = parser.parse_args()
    trials, epochs, repeats = (8, 6, 1) if args.quick else (54, 20, 3)
    start_embedded_ray(log_to_driver=False)
    runs: dict[str, list[dict[str, float]]] = {"asha": [], "none": []}
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        for repeat in range(repeats):
            for kind in ("asha", "none"):
                storage = Path(tmp) / f"{kind}-{repeat}"
                name = f"early-stopping-{kind}"
                grace = args.grace_period if kind == "asha" else 0
                run = recipe(name, trials, epochs, grace, seed=repeat)
                summary, wall = run_tunefw(run, storage)
                assert summary.best is not None
                if kind == "asha":
                    ran_grace = grace_that_ran(storage, name)
                runs[kind].append(
                    {
                        "epochs": epochs_trained(storage, name),
                        "wall_s": wall,
                        "accuracy": summary.best.score,
                    }
                )
                emit("early_stopping_run", scheduler=kind, repeat=repeat, **runs[kind][-1])
    median = {
        kind: {key: statistics.median(r[key] for r in rs) for key in rs[0]}
        for kind, rs in runs.items()
    }
    emit(
        "early_stopping",
        trials=trials,
        epochs_per_trial=epochs,
        grace_period=ran_grace,
        repeats=repeats,
        asha=median["asha"],
        none=median["none"],
        epochs_ratio=median["none"]["epochs"] / median["asha"]["epochs"],
        wall_ratio=median["none"]["wall_s"] / median["asha"]["wall_s"],
        accuracy_lost_points=100 * (median["none"]["accuracy"] - median["asha"]["accuracy"]),
    )


if __name__ == "__main__":
    main()
