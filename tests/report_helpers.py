"""Tiny real experiments for the report and export tests, run through ``tunefw run``."""

from __future__ import annotations

from pathlib import Path

from tunefw.cli.main import main

from .conftest import REPO
from .faults_helpers import function_recipe

ASHA = "quickstart"  # an SVC under ASHA: completed and stopped-early trials, 5-fold curves
PARETO = "pareto-accuracy-vs-fit-time"  # two objectives
FLAKY = "flaky"  # a function trainable: errored trials, a constraint, one parameter


def run_experiments(tmp_path: Path) -> Path:
    """Run the three experiments into ``tmp_path/results`` and return that storage root."""
    storage = tmp_path / "results"
    runs = {
        "quickstart.yaml": ["search.num_samples=8"],
        # Grace 2 of 2 folds: MO-ASHA ranks on fit time, which the machine's load moves, so
        # how many of 6 trials it stopped varied (4 scored once: too few for importance).
        "pareto_accuracy_vs_fit_time.yaml": [
            "search.num_samples=6",
            "validation.folds=2",
            "scheduler.grace_period=2",
        ],
    }
    for recipe, overrides in runs.items():
        sets = [arg for value in overrides for arg in ("--set", value)]
        args = ["run", str(REPO / "recipes" / recipe), "--storage", str(storage), *sets]
        assert main(args) == 0
    flaky = function_recipe(
        tmp_path,
        f"""
        name: {FLAKY}
        trainable: {{kind: function, function: "toy_trainables:fails_above", metrics: [loss]}}
        objective: {{metric: loss, mode: min, constraints: ["loss <= 0.2"]}}
        search: {{num_samples: 8, seed: 0, space: {{x: {{uniform: [0, 1]}}}}}}
        scheduler: {{type: none}}
        """,
    )
    assert main(["run", str(flaky)]) == 0
    return storage
