"""The overhead and scale benchmarks run end to end at their --quick size and produce their
figures (smoke tests: timings are the benchmarks' business, not the tests')."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from .conftest import REPO
from .faults_helpers import env_with

pytestmark = pytest.mark.slow


def figures(module: str, tmp_path) -> dict[str, object]:
    """Run ``python -m MODULE --quick`` in a process of its own (its own embedded Ray)."""
    ran = subprocess.run(
        [sys.executable, "-m", module, "--quick", "--workdir", str(tmp_path)],
        cwd=REPO, env=env_with({}), capture_output=True, text=True, timeout=400,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr[-3000:]
    (line,) = [line for line in ran.stdout.splitlines() if line.startswith('{"figure"')]
    return json.loads(line)


def test_the_overhead_benchmark_compares_tunefw_with_every_reference(tmp_path):
    found = figures("benchmarks.overhead", tmp_path)
    assert found["trials"] == 12 and found["reports"] == 10
    for name in ("tunefw", "tunefw_lean", "raw_defaults", "raw_hand_tuned", "optuna_in_process"):
        assert found[f"{name}_trials_per_s"] > 0
    for mode in ("tunefw", "tunefw_lean"):
        expected = found[f"{mode}_trials_per_s"] / found["raw_hand_tuned_trials_per_s"]
        assert found[f"{mode}_vs_raw_hand_tuned"] == pytest.approx(expected, rel=0.02)


def test_the_scale_benchmark_measures_memory_and_flatness_for_both(tmp_path):
    found = figures("benchmarks.scale", tmp_path)
    assert found["trials"] == 200
    for side in ("tunefw", "tunefw_lean", "raw"):
        assert found[f"{side}_trials_per_s"] > 0
        assert found[f"{side}_last_vs_first_per_trial"] > 0
        assert isinstance(found[f"{side}_rss_growth_kb_per_trial"], float)
