"""Plumbing for the benchmarks: argument parsing, JSON lines, a tunefw run from a dict."""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tunefw.prepare.prepared import prepare_recipe
from tunefw.recipe.loading import validate_recipe
from tunefw.running.ray_connection import connect, start_embedded_ray
from tunefw.running.runner import RunOptions, RunSummary, run_experiment
from tunefw.store.layout import ExperimentLocation, Storage

HERE = Path(__file__).resolve().parent


def arguments(description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="a small size, under 2 minutes")
    parser.add_argument("--workdir", default=None, help="where to write (a temp dir by default)")
    parser.add_argument(
        "--address",
        default=None,
        help="join the Ray at HOST:PORT (every contender runs on it) instead of starting "
        "an embedded one with every CPU",
    )
    return parser.parse_args()


def start_ray(address: str | None) -> None:
    """Join the Ray at ``address``, or start an embedded one with every CPU."""
    if address:
        connect(address)
    else:
        start_embedded_ray(num_cpus=os.cpu_count())


def emit(figure: str, **values: Any) -> None:
    """One JSON line per figure, with the machine it was measured on."""
    record = {"figure": figure, **values, "cpus": os.cpu_count(), "machine": platform.machine()}
    print(json.dumps(record), flush=True)


def run_tunefw(
    recipe: dict[str, Any], storage: Path, callbacks: Sequence[Any] = ()
) -> tuple[RunSummary, float]:
    """Run a recipe given as a dict (trainables from ``benchmarks.workloads``); wall seconds."""
    sys.path.insert(0, str(HERE.parent))
    prepared = prepare_recipe(validate_recipe({**recipe, "storage": str(storage)}, "benchmark"))
    location = ExperimentLocation(Storage.open(str(storage)), recipe["name"])
    started = time.perf_counter()
    summary = run_experiment(
        prepared, location, RunOptions(callbacks=callbacks, import_paths=[str(HERE.parent)])
    )
    return summary, time.perf_counter() - started


def dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
