"""A real full disk: a small tmpfs as the storage. The run stops with one line, what was
written stays readable, and once there is room again resume completes the run."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tunefw.cli.main import main
from tunefw.store import columns as col
from tunefw.store.layout import Storage, find_experiment
from tunefw.store.manifest import load_manifest
from tunefw.store.reader import final_rows, read_results

from .faults_helpers import function_recipe

pytestmark = pytest.mark.usefixtures("ray_session")


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs (mounting needs root, as CI and this machine's sessions run)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(disk)], check=True)
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=True)


@pytest.mark.slow
def test_a_full_disk_is_one_line_and_resume_completes_once_there_is_room(
    tmp_path, capsys, small_disk
):
    recipe = function_recipe(
        tmp_path,
        """
        name: full
        trainable: {kind: function, function: "toy_trainables:bulky"}
        objective: {metric: loss, mode: min}
        search: {num_samples: 6, seed: 1, max_concurrent: 2, space: {x: {uniform: [0, 1]}}}
        scheduler: {type: none}
        resources: {cpu: 0.5}
        """,
    )
    recipe.write_text(recipe.read_text().replace(str(tmp_path / "results"), str(small_disk)))
    assert main(["run", str(recipe)]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(err) == 1 and err[0].endswith("No space left on device"), err
    parts = sorted((small_disk / "full" / "results").glob("part-*.parquet"))
    assert all(pq.read_table(p).num_rows for p in parts), "what was written stays readable"

    subprocess.run(["mount", "-o", "remount,size=64m", str(small_disk)], check=True)
    assert main(["resume", "full", "--storage", str(small_disk)]) == 0, capsys.readouterr().err
    location = find_experiment(Storage.open(str(small_disk)), "full")
    assert load_manifest(location)["status"] == "completed"
    finals = final_rows(read_results(location)).to_pylist()
    assert len(finals) == 6 and {r[col.STATUS] for r in finals} == {col.TERMINATED}
    assert read_results(location).num_rows == 6 * 20
