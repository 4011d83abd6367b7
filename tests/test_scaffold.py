"""``tunefw new-plugin``: packages that lint clean, install, pass their own tests and run; and
the root options, ``--version`` and shell completion, through the ``tunefw`` console script."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from importlib.metadata import distributions, version
from pathlib import Path
from typing import Any

import pytest

from tunefw.cli.main import main
from tunefw.moved import MOVED
from tunefw.plugin_api.registry import GROUPS
from tunefw.store import columns as col
from tunefw.store.layout import Storage, find_experiment
from tunefw.store.reader import final_rows, read_results

from .faults_helpers import env_with

NAMES = {
    "search": "coin_toss",
    "validation": "repeated_holdout",
    "regularization": "shrinkage",
    "trainable": "tiny_bowl",
}


def run_ok(args: list[str], **kwargs: Any) -> str:
    """Run ``args``; fail with its output unless it exits 0, else return its stdout."""
    done = subprocess.run(args, capture_output=True, text=True, timeout=300, **kwargs)
    assert done.returncode == 0, f"{args} exited {done.returncode}:\n{done.stdout}{done.stderr}"
    return done.stdout


def scaffold_all(parent: Path) -> dict[str, Path]:
    """One package of each kind in ``parent``, made by the command; their folders by kind."""
    for kind, name in NAMES.items():
        assert main(["new-plugin", kind, name, "--dir", str(parent)]) == 0
    return {kind: parent / f"tunefw-{name.replace('_', '-')}" for kind, name in NAMES.items()}


@pytest.fixture(scope="module")
def scaffolds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return scaffold_all(tmp_path_factory.mktemp("plugins"))


@pytest.fixture(scope="module")
def plugin_env(
    scaffolds: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, str]:
    """The four packages pip-installed into a folder of their own, and an environment whose
    Python finds them there: installed as a user would, yet invisible to other tests and
    gone with the folder."""
    site = tmp_path_factory.mktemp("site")
    pip = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation"]
    run_ok([*pip, "--target", str(site), *map(str, scaffolds.values())])
    path = [str(site), *filter(None, [os.environ.get("PYTHONPATH")])]
    return env_with({"PYTHONPATH": os.pathsep.join(path)})


def test_each_kind_is_a_lint_clean_package(tmp_path):
    for kind, root in scaffold_all(tmp_path).items():
        package = "tunefw_" + NAMES[kind]
        files = {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}
        assert files == {
            "pyproject.toml",
            "README.md",
            f"{package}/__init__.py",
            f"{package}/plugin.py",
            f"tests/test_{NAMES[kind]}.py",
        }
        assert NAMES[kind] in (root / "README.md").read_text().split("```yaml")[1]
    run_ok([sys.executable, "-m", "ruff", "check", "--no-cache", str(tmp_path)])
    run_ok([sys.executable, "-m", "ruff", "format", "--check", "--no-cache", str(tmp_path)])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["widget", "x"], "unknown plugin kind 'widget'; choose one of: search, validation"),
        (["search", "2fast"], "plugin name '2fast' is not a Python identifier"),
        (["search", "my-plugin"], "plugin name 'my-plugin' is not a Python identifier"),
        (["search", "x" * 33], "at most 32 characters long"),
        (
            ["validation", "holdout"],
            "validation strategy 'holdout' is already installed (by tunefw)",
        ),
        (["search", "taken"], "tunefw-taken already exists and is not an empty folder"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, message, tmp_path, capsys):
    (tmp_path / "tunefw-taken").mkdir()
    (tmp_path / "tunefw-taken" / "notes.txt").write_text("mine")
    assert main(["new-plugin", *args, "--dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err
    assert len(err.strip().splitlines()) == 1
    assert (tmp_path / "tunefw-taken" / "notes.txt").read_text() == "mine"


@pytest.mark.slow
def test_installed_plugins_are_registered_and_listed(scaffolds, plugin_env):
    site = plugin_env["PYTHONPATH"].split(os.pathsep)[0]
    declared = {
        (ep.group, ep.name, ep.value)
        for dist in distributions(path=[site])
        for ep in dist.entry_points
    }
    assert declared == {
        (GROUPS[kind], name, f"tunefw_{name}.plugin:{name.title().replace('_', '')}")
        for kind, name in NAMES.items()
    }
    out = run_ok(["tunefw", "plugins", "--json"], env=plugin_env)
    decoder, listed, rest = json.JSONDecoder(), {}, out.strip()
    while rest:
        info, end = decoder.raw_decode(rest)
        listed[info["kind"], info["name"]] = info
        rest = rest[end:].lstrip()
    for kind, name in NAMES.items():
        info = listed[kind, name]
        assert (info["package"], info["version"], info["error"]) == (
            scaffolds[kind].name,
            "0.1.0",
            None,
        )


@pytest.mark.slow
def test_the_generated_tests_pass(scaffolds, plugin_env, tmp_path):
    tests = [str(next((root / "tests").glob("test_*.py"))) for root in scaffolds.values()]
    out = run_ok(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests],
        env=plugin_env,
        cwd=tmp_path,
    )
    assert "12 passed" in out


def _old_paths(text: str) -> str:
    """``text`` as a package made before the core was laid out by stage imports."""
    for old, new in sorted(MOVED.items(), key=lambda move: -len(move[1])):
        head, _, leaf = new.rpartition(".")
        text = text.replace(f"from {head} import {leaf}\n", f"from tunefw import {leaf}\n")
        text = re.sub(rf"\b{re.escape(new)}\b", old, text)
    return text.replace("tunefw.recipe.space", "tunefw.space")


@pytest.mark.slow
def test_packages_written_against_the_old_module_paths_still_work(tmp_path):
    """The four scaffolds with their imports as an older tunefw wrote them (tunefw.context,
    tunefw.protocols, tunefw.space, tunefw.registry ...): they install, register and pass
    their own tests, each old path with a DeprecationWarning naming the new one."""
    scaffolds = scaffold_all(tmp_path / "old")
    for source in (tmp_path / "old").rglob("*.py"):
        source.write_text(_old_paths(source.read_text()))
    imports = "".join(p.read_text() for p in (tmp_path / "old").rglob("*.py"))
    assert "from tunefw.context import" in imports and "from tunefw import registry" in imports
    assert "plugin_api" not in imports and "tunefw.recipe." not in imports
    site = tmp_path / "site"
    pip = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation"]
    run_ok([*pip, "--target", str(site), *map(str, scaffolds.values())])
    env = env_with({"PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])})
    tests = [str(next((root / "tests").glob("test_*.py"))) for root in scaffolds.values()]
    out = run_ok(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W",
         "always::DeprecationWarning", *tests],
        env=env,
        cwd=tmp_path,
    )  # fmt: skip
    assert "12 passed" in out
    for old in ("tunefw.context", "tunefw.protocols", "tunefw.space", "tunefw.registry"):
        assert f"DeprecationWarning: {old} moved to {MOVED[old]}" in out


@pytest.mark.slow
def test_a_run_uses_the_new_plugins(plugin_env, tmp_path):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(
        textwrap.dedent(
            f"""
            name: scaffolded
            trainable: {{kind: sklearn, estimator: sklearn.linear_model.Ridge}}
            data: {{loader: "sklearn.datasets:load_diabetes"}}
            objective: {{metric: r2, mode: max}}
            search: {{strategy: coin_toss, num_samples: 3, max_concurrent: 2, seed: 0, space: {{}}}}
            validation: {{strategy: repeated_holdout, fraction: 0.25, repeats: 2}}
            regularization: [{{name: shrinkage, range: [1.0e-2, 1.0e+2]}}]
            scheduler: {{type: none}}
            storage: {tmp_path / "results"}
            """
        )
    )
    run_ok(["tunefw", "run", str(recipe)], env=plugin_env, cwd=tmp_path)
    table = read_results(find_experiment(Storage.open(str(tmp_path / "results")), "scaffolded"))
    finals = final_rows(table).to_pylist()
    assert len(finals) == 3
    for row in finals:
        assert row[col.STATUS] == col.TERMINATED
        assert row[col.ITERATION] == 2, "one report per repeated_holdout split"
        assert 1e-2 <= row["config.shrinkage"] <= 1e2, "shrinkage adds its hyperparameter"
    scores = {row["metric.r2"] for row in finals}
    assert len(scores) == 3, "shrinkage sets Ridge's alpha, the only thing that varies"


def test_version():
    done = subprocess.run(["tunefw", "--version"], capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stdout) == (0, f"tunefw {version('tunefw')}\n")


def test_shell_completion_through_the_console_script():
    # Typer finds the shell among the parent processes; this switch lets the test name it.
    env = env_with({"_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"})
    script = run_ok(["tunefw", "--show-completion", "bash"], env=env)
    assert "_tunefw_completion()" in script and "_TUNEFW_COMPLETE=complete_bash" in script

    def complete(words: str) -> list[str]:
        cword = str(len(words.split()) - 1)
        request = {"_TUNEFW_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": cword}
        return run_ok(["tunefw"], env=env_with(request)).split()

    assert complete("tunefw ru") == ["run"]
    assert complete("tunefw new-plugin va") == ["validation"]
