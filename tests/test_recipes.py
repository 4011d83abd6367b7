"""Every shipped recipe runs end to end through ``tunefw.run()``, at a tiny budget, on the
session's Ray (tests/test_python_api.py shows it stores what ``tunefw run`` stores)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

import tunefw

from .conftest import REPO

pytestmark = pytest.mark.usefixtures("ray_session")

TINY = {
    "quickstart": ["search.num_samples=3"],
    "image_digits_cnn": ["search.num_samples=2", "trainable.epochs=2", "scheduler.max_t=2",
                         "scheduler.grace_period=1"],
    "tabular_breast_cancer": ["search.num_samples=2"],
    "text_topics": ["search.num_samples=2"],
    "audio_tones": ["search.num_samples=2", "trainable.epochs=3", "scheduler.max_t=3",
                    "scheduler.grace_period=1"],
    "transfer_pretrain_digits04": ["trainable.epochs=2", "trainable.save_model={weights}"],
    "transfer_finetune_digits59": ["search.num_samples=2", "search.space.epochs=2",
                                   "trainable.pretrained={weights}"],
    "svm_bayesian_conditional": ["search.num_samples=3"],
    "pareto_accuracy_vs_fit_time": ["search.num_samples=3"],
    "ridge_hypergrad": ["search.num_samples=2", "search.params.steps=3"],
    "lightning_digits": ["search.num_samples=2", "trainable.max_epochs=2"],
    "text_topics_transformer": ["search.num_samples=2", "trainable.epochs=2"],
    "digits_mlp_hypergrad": ["search.num_samples=2", "search.params.steps=2",
                             "search.params.inner_steps=2"],
}  # fmt: skip


def test_every_recipe_is_covered():
    shipped = {p.stem for p in (REPO / "recipes").glob("*.yaml")}
    assert shipped == set(TINY)


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the pretraining recipe writes, and the fine-tuning recipe reads, its weights."""
    return tmp_path_factory.mktemp("transfer") / "digits04.pt"


# The pretraining recipe sorts after the fine-tuning one; it must run first.
ORDER = sorted(TINY, key=lambda name: (name == "transfer_finetune_digits59", name))


@pytest.mark.slow
@pytest.mark.parametrize("name", ORDER)
def test_recipe_runs(name, tmp_path, capsys, monkeypatch, weights):
    monkeypatch.chdir(REPO)  # recipes name their data relative to the repository root
    fields = (override.format(weights=weights).split("=", 1) for override in TINY[name])
    overrides = {key: yaml.safe_load(value) for key, value in fields}
    experiment = tunefw.run(f"recipes/{name}.yaml", set=overrides, storage=str(tmp_path))
    out = capsys.readouterr().out
    assert re.search(r"best \w+ -?\d+\.\d+", out), out
    assert "0 errored" in out
    assert experiment.status == "completed"
    assert experiment.best().trial_id in experiment.results().column("trial_id").to_pylist()
