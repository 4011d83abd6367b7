"""The ``lightning`` trainable: a LightningModule and its DataModule, by import path, trained by
Lightning's Trainer on the session's real Ray, ASHA stopping weak trials on what the module
logs each epoch; its one-line refusals."""

from __future__ import annotations

from collections import Counter

import pytest

from tunefw.cli.main import main
from tunefw.store import columns as col
from tunefw.store.layout import Storage, find_experiment
from tunefw.store.reader import final_rows, read_results

from .conftest import REPO
from .faults_helpers import (
    assert_resumed_once_from_a_checkpoint,
    trials_killed_at_their_third_checkpoint,
    validate_without,
)

RECIPE = REPO / "recipes" / "lightning_digits.yaml"


@pytest.mark.slow
def test_asha_stops_weak_lightning_trials_on_the_metrics_the_module_logs(tmp_path, ray_session):
    sets = ["search.num_samples=6", "trainable.max_epochs=3", "search.strategy=random"]
    args = [
        "run",
        str(RECIPE),
        "--storage",
        str(tmp_path),
        *[a for s in sets for a in ("--set", s)],
    ]
    assert main(args) == 0
    table = read_results(find_experiment(Storage.open(str(tmp_path)), "lightning-digits"))
    rows = table.to_pylist()
    for row in rows:  # one report per epoch, with what the module logged
        assert row["metric.epoch"] == row[col.ITERATION]
        assert 0.0 <= row["metric.val_accuracy"] <= 1.0
        assert row["metric.val_loss"] > 0 and row["metric.train_loss"] > 0
    finals = final_rows(table).to_pylist()
    statuses = Counter(r[col.STATUS] for r in finals)
    assert len(finals) == 6 and statuses[col.STOPPED_EARLY] >= 1, statuses
    stopped = [r for r in finals if r[col.STATUS] == col.STOPPED_EARLY]
    assert all(r[col.ITERATION] < 3 for r in stopped), "stopped at a rung before the last epoch"
    assert max(r["metric.val_accuracy"] for r in finals) > 0.85


@pytest.mark.slow
def test_a_killed_lightning_trial_resumes_from_lightnings_checkpoint(tmp_path, ray_session):
    sets = [
        "search.num_samples=1", "trainable.max_epochs=8", "trainable.checkpoint_every=1",
        "scheduler={type: none}", "failure={max_retries: 1}",
    ]  # fmt: skip
    overrides = [arg for value in sets for arg in ("--set", value)]
    with trials_killed_at_their_third_checkpoint(tmp_path / "lightning-digits" / "ray"):
        assert main(["run", str(RECIPE), "--storage", str(tmp_path), *overrides]) == 0
    location = find_experiment(Storage.open(str(tmp_path)), "lightning-digits")
    assert_resumed_once_from_a_checkpoint(location, epochs=8)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            "search.space.width={choice: [1, 2]}",
            "search.space.width: a parameter of neither lightning_digits:DigitsClassifier nor "
            "lightning_digits:DigitsData, nor a Trainer setting",
        ),
        ("trainable.module=lightning_digits:Nothing", "trainable.module: "),
        ("objective.metric=accuracy", "objective.metric: "),
    ],
)
def test_a_wrong_lightning_recipe_is_one_line(override, message, capsys):
    assert main(["validate", str(RECIPE), "--set", override]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"error: {message}"), line


def test_without_lightning_installed_the_recipe_is_one_line_with_the_pip_command():
    done = validate_without("lightning", RECIPE)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == (
        "error: trainable.kind: lightning needs the lightning package: "
        "pip install 'tunefw[lightning]'"
    )


def test_the_lightning_page_shows_the_recipe_and_module_the_tests_run():
    page = (REPO / "docs" / "lightning.md").read_text()
    for shipped in ("lightning_digits.yaml", "lightning_digits.py"):
        assert (REPO / "recipes" / shipped).read_text() in page, shipped
