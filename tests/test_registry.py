"""Plugin discovery: entry points only, failures isolated and named."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tunefw.cli.main import main
from tunefw.errors import PluginError
from tunefw.plugin_api import registry

BUILT_INS = {
    ("search", "random"),
    ("search", "grid"),
    ("validation", "holdout"),
    ("validation", "kfold"),
    ("validation", "stratified_kfold"),
    ("regularization", "l2"),
    ("trainable", "sklearn"),
    ("trainable", "function"),
}


@pytest.fixture
def third_party(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An installed third-party distribution with one broken and two working plugins."""
    dist = tmp_path / "tunefw_extra-1.2.3.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: tunefw-extra\nVersion: 1.2.3\n")
    (dist / "entry_points.txt").write_text(
        textwrap.dedent(
            """
            [tunefw.search]
            broken = extra_broken:Strategy
            paramless = extra_ok:NoParams

            [tunefw.validation]
            first_half = extra_ok:FirstHalf
            """
        )
    )
    (tmp_path / "extra_broken.py").write_text("import no_such_module_anywhere\n")
    (tmp_path / "extra_ok.py").write_text(
        textwrap.dedent(
            """
            import numpy as np
            from pydantic import BaseModel, ConfigDict
            from tunefw.plugin_api.protocols import Split

            class FirstHalf:
                class Params(BaseModel):
                    model_config = ConfigDict(extra="forbid")

                def __init__(self, params):
                    self.params = params

                def n_splits(self, data):
                    return 1

                def splits(self, data):
                    n = len(data)
                    return [Split(train=np.arange(n // 2), valid=np.arange(n // 2, n))]

            class NoParams:
                pass
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_built_ins_are_registered_through_entry_points():
    found = {(i.kind, i.name): i for i in registry.describe()}
    assert set(found) >= BUILT_INS
    for key in BUILT_INS:
        assert found[key].package == "tunefw"
        assert found[key].error is None
        assert found[key].target.startswith("tunefw_plugins.")


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(PluginError, match=r"unknown search strategy 'nope'; known: .*grid"):
        registry.load("search", "nope")


def test_a_broken_plugin_is_named_and_breaks_nothing_else(third_party):
    with pytest.raises(PluginError, match=r"search strategy 'broken' \(extra_broken:Strategy\)"):
        registry.load("search", "broken")
    assert registry.load("search", "random").__name__ == "RandomSearch"
    infos = {(i.kind, i.name): i for i in registry.describe()}
    assert "No module named 'no_such_module_anywhere'" in (infos["search", "broken"].error or "")
    assert infos["search", "random"].error is None
    assert infos["validation", "first_half"].error is None
    assert infos["validation", "first_half"].package == "tunefw-extra"
    assert infos["validation", "first_half"].version == "1.2.3"


def test_a_plugin_without_params_model_is_refused(third_party):
    with pytest.raises(PluginError, match=r"'paramless'.*has no Params model"):
        registry.load("search", "paramless")


def test_plugins_command_shows_the_broken_one(third_party, capsys):
    assert main(["plugins", "--json"]) == 0
    out = capsys.readouterr().out
    assert '"name": "broken"' in out and "no_such_module_anywhere" in out
    assert '"name": "stratified_kfold"' in out


def test_disabling_a_plugin_hides_it(third_party, monkeypatch):
    monkeypatch.setenv(registry.DISABLE_ENV, "search:broken, first_half")
    names = {(i.kind, i.name) for i in registry.describe()}
    assert ("search", "broken") not in names
    assert ("validation", "first_half") not in names
    assert ("search", "paramless") in names


def test_a_third_party_plugin_is_used_like_a_built_in(third_party, tmp_path, capsys):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        textwrap.dedent(
            """
            name: third
            trainable: {kind: sklearn, estimator: sklearn.linear_model.Ridge}
            data: {loader: "sklearn.datasets:load_diabetes"}
            objective: {metric: r2, mode: max}
            search: {space: {alpha: {loguniform: [0.01, 10]}}}
            validation: {strategy: first_half}
            """
        )
    )
    assert main(["validate", str(recipe)]) == 0
    assert "first_half validation" in capsys.readouterr().out
    assert main(["validate", str(recipe), "--set", "search.strategy=broken"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: search.strategy: search strategy 'broken'")


def test_the_framework_imports_no_plugin_until_asked():
    code = (
        "import sys, tunefw.cli.main, tunefw.running.runner;"
        "assert not [m for m in sys.modules if m.startswith('tunefw_plugins')], 'eager import'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
