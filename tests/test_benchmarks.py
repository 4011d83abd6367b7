"""The overhead and scale benchmarks run end to end at their --quick size, and what each
contender ran is checked in what it left behind (timings themselves are the benchmarks'
business, not the tests')."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter

import pytest
import ray

from tunefw.store import columns as col
from tunefw.store.layout import Storage, find_experiment
from tunefw.store.reader import final_rows, read_results

from .conftest import REPO

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("ray_session")]


def figures(module: str, tmp_path) -> dict[str, object]:
    """Run ``python -m MODULE --quick`` in a process of its own, on the session's Ray (what
    the tests check is what each contender stored and measured, not the Ray it ran on; one
    started per benchmark took a sixth of their time)."""
    address = ray.get_runtime_context().gcs_address
    ran = subprocess.run(
        [sys.executable, "-m", module, "--quick", "--workdir", str(tmp_path), "--address", address],
        cwd=REPO, capture_output=True, text=True, timeout=400,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr[-3000:]
    (line,) = [line for line in ran.stdout.splitlines() if line.startswith('{"figure"')]
    return json.loads(line)


def test_the_overhead_benchmark_compares_tunefw_with_every_reference(tmp_path):
    """What each contender ran is checked in what it left behind, and tunefw's rates against
    its own stored trial times: a rate can be no faster than its slowest trial allows."""
    found = figures("benchmarks.overhead", tmp_path)
    assert found["trials"] == 12 and found["reports"] == 10
    for name in ("tunefw", "tunefw_lean", "raw_defaults", "raw_hand_tuned", "optuna_in_process"):
        assert found[f"{name}_trials_per_s"] > 0
    for mode, run in (("tunefw", "tunefw-0"), ("tunefw_lean", "tunefw-lean-0")):
        table = read_results(find_experiment(Storage.open(str(tmp_path / run)), "overhead"))
        finals = final_rows(table)
        assert finals.num_rows == 12, "every trial stored"
        assert set(finals.column(col.STATUS).to_pylist()) <= {col.TERMINATED, col.STOPPED_EARLY}
        rows = Counter(table.column(col.TRIAL_ID).to_pylist())
        assert all(1 <= n <= 10 for n in rows.values()), "ASHA's stops, at most 10 reports"
        slowest = max(t for t in table.column(col.TRIAL_TIME).to_pylist() if t is not None)
        assert found[f"{mode}_trials_per_s"] <= 12 / slowest * 1.01
        expected = found[f"{mode}_trials_per_s"] / found["raw_hand_tuned_trials_per_s"]
        assert found[f"{mode}_vs_raw_hand_tuned"] == pytest.approx(expected, rel=0.02)
    raw = tmp_path / "raw-hand-tuned-0" / "raw"
    assert len([d for d in raw.iterdir() if d.name.startswith("raw_reports")]) == 12


def test_the_scale_benchmark_measures_memory_and_flatness_for_both(tmp_path):
    found = figures("benchmarks.scale", tmp_path)
    assert found["trials"] == 100
    for run in ("tunefw", "tunefw-lean"):
        table = read_results(find_experiment(Storage.open(str(tmp_path / run)), "scale"))
        assert final_rows(table).num_rows == table.num_rows == 100, "one report per trial"
        assert set(table.column(col.STATUS).to_pylist()) == {col.TERMINATED}
    for side in ("tunefw", "tunefw_lean", "raw"):
        assert found[f"{side}_trials_per_s"] > 0
        assert found[f"{side}_last_vs_first_per_trial"] > 0
        assert isinstance(found[f"{side}_rss_growth_kb_per_trial"], float)
