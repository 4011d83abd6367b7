"""The ``transformers`` trainable: a small BERT-style classifier built from its config, its
tokenizer trained on the texts, fine-tuned by the Hugging Face Trainer on the session's real
Ray with ASHA on each evaluation; its one-line refusals."""

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

RECIPE = REPO / "recipes" / "text_topics_transformer.yaml"


def test_asha_stops_weak_transformer_trials_on_each_evaluation(tmp_path, ray_session, monkeypatch):
    monkeypatch.chdir(REPO)  # the recipe names its data relative to the repository root
    sets = [  # loss, not accuracy: on 48 texts, trials after one epoch often tie on accuracy
        "search.num_samples=6", "trainable.epochs=3", "search.strategy=random",
        "objective={metric: loss, mode: min}",
    ]  # fmt: skip
    overrides = [arg for value in sets for arg in ("--set", value)]
    assert main(["run", str(RECIPE), "--storage", str(tmp_path), *overrides]) == 0
    table = read_results(find_experiment(Storage.open(str(tmp_path)), "text-topics-transformer"))
    for row in table.to_pylist():  # one report per evaluation, one evaluation per epoch
        assert row["metric.epoch"] == row[col.ITERATION]
        assert 0.0 <= row["metric.accuracy"] <= 1.0 and row["metric.loss"] > 0
    finals = final_rows(table).to_pylist()
    statuses = Counter(r[col.STATUS] for r in finals)
    assert len(finals) == 6 and statuses[col.STOPPED_EARLY] >= 1, statuses
    assert all(r[col.ITERATION] < 3 for r in finals if r[col.STATUS] == col.STOPPED_EARLY)
    assert statuses[col.TERMINATED] >= 1
    assert {r[col.ITERATION] for r in finals if r[col.STATUS] == col.TERMINATED} == {3}


@pytest.mark.slow
def test_a_killed_transformers_trial_resumes_from_the_trainers_checkpoint(
    tmp_path, ray_session, monkeypatch
):
    monkeypatch.chdir(REPO)
    sets = [
        "search.num_samples=1", "trainable.epochs=8", "trainable.checkpoint_every=1",
        "scheduler={type: none}", "failure={max_retries: 1}",
    ]  # fmt: skip
    overrides = [arg for value in sets for arg in ("--set", value)]
    with trials_killed_at_their_third_checkpoint(tmp_path / "text-topics-transformer" / "ray"):
        assert main(["run", str(RECIPE), "--storage", str(tmp_path), *overrides]) == 0
    location = find_experiment(Storage.open(str(tmp_path)), "text-topics-transformer")
    assert_resumed_once_from_a_checkpoint(location, epochs=8)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("search.space.width={choice: [1, 2]}", "search.space.width: neither a TrainingArguments "
         "field nor a field of BertConfig"),
        ("trainable.model_type=nosuch", "trainable.model_type: transformers knows no model type"),
        ("objective.metric=f1", "objective.metric: "),
    ],
)  # fmt: skip
def test_a_wrong_transformers_recipe_is_one_line(override, message, capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    assert main(["validate", str(RECIPE), "--set", override]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"error: {message}"), line


def test_without_transformers_installed_the_recipe_is_one_line_with_the_pip_command():
    done = validate_without("transformers", RECIPE)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == (
        "error: trainable.kind: transformers needs the transformers, tokenizers and accelerate "
        "packages: pip install 'tunefw[transformers]'"
    )


def test_the_transformers_page_shows_the_recipe_the_tests_run():
    page = (REPO / "docs" / "transformers.md").read_text()
    assert RECIPE.read_text() in page
