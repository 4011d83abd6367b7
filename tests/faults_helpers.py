"""Helpers shared by the fault tests: recipes for toy trainables, raw part reads."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pyarrow.parquet as pq

from tunefw.store import columns as col
from tunefw.store.layout import ExperimentLocation, Storage, find_experiment

from .conftest import DATA


def function_recipe(tmp_path: Path, body: str) -> Path:
    """A recipe for the ``function`` trainable, with the toy module beside it."""
    shutil.copy(DATA / "toy_trainables.py", tmp_path)
    path = tmp_path / "recipe.yaml"
    path.write_text(textwrap.dedent(body) + f"storage: {tmp_path / 'results'}\n")
    return path


def experiment(tmp_path: Path, name: str) -> ExperimentLocation:
    return find_experiment(Storage.open(str(tmp_path / "results")), name)


def stored_keys(location: ExperimentLocation) -> list[tuple[str, int]]:
    """Every (trial_id, iteration) physically stored, reading each part on its own."""
    keys = []
    for part in sorted(Path(location.results_dir).glob("*.parquet")):
        table = pq.read_table(part)  # raises on a corrupt part
        keys += list(
            zip(table[col.TRIAL_ID].to_pylist(), table[col.ITERATION].to_pylist(), strict=True)
        )
    return keys
