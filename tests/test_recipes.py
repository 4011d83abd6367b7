"""Every shipped recipe runs end to end, at a tiny budget, on the session's Ray."""

from __future__ import annotations

import re

import pytest

from tunefw.cli.main import main

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
}  # fmt: skip


def test_every_recipe_is_covered():
    shipped = {p.stem for p in (REPO / "recipes").glob("*.yaml")}
    assert shipped == set(TINY)


@pytest.mark.parametrize("name", sorted(TINY))
def test_recipe_runs(name, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(REPO)  # recipes name their data relative to the repository root
    args = ["run", f"recipes/{name}.yaml", "--storage", str(tmp_path)]
    for override in TINY[name]:
        args += ["--set", override]
    assert main(args) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert re.search(r"best \w+ \d\.\d+", out), out
    assert "0 errored" in out
