"""The house's structure, as behaviour: no import cycles, a store that reads without Ray, and
the old module paths still importable (deprecated) for plugins written against them."""

from __future__ import annotations

import importlib
import subprocess
import sys
import warnings

import grimp
import pytest

from tunefw.moved import MOVED


def _cycle(graph: grimp.ImportGraph) -> list[str] | None:
    """One import cycle among tunefw's modules at run time (TYPE_CHECKING imports left out),
    or None."""
    state: dict[str, int] = {}  # 1: on the path being walked, 2: done
    path: list[str] = []

    def walk(module: str) -> list[str] | None:
        state[module] = 1
        path.append(module)
        for imported in sorted(graph.find_modules_directly_imported_by(module)):
            if state.get(imported) == 1:
                return [*path[path.index(imported) :], imported]
            if imported not in state and (found := walk(imported)):
                return found
        path.pop()
        state[module] = 2
        return None

    for module in sorted(graph.modules):
        if module not in state and (found := walk(module)):
            return found
    return None


def test_no_module_of_tunefw_imports_itself_back():
    graph = grimp.build_graph("tunefw", exclude_type_checking_imports=True)
    assert len(graph.modules) > 100
    assert _cycle(graph) is None


def test_the_cycle_finder_finds_one():
    graph = grimp.ImportGraph()
    for module in ("a", "a.b", "a.c"):
        graph.add_module(module)
    graph.add_import(importer="a.b", imported="a.c")
    graph.add_import(importer="a.c", imported="a.b")
    assert _cycle(graph) in (["a.b", "a.c", "a.b"], ["a.c", "a.b", "a.c"])


def modules_after(statement: str) -> set[str]:
    """The modules a fresh interpreter has loaded once it has run ``statement``."""
    code = f"import sys\n{statement}\nprint('\\n'.join(sys.modules))\n"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return set(done.stdout.split())


def test_the_store_reads_results_without_importing_ray_or_the_plugins():
    loaded = modules_after(
        "import tunefw.store.reader, tunefw.store.query, tunefw.store.manifest\n"
        "import tunefw.store.ranking, tunefw.store.compaction, tunefw.store.layout"
    )
    roots = {m.split(".")[0] for m in loaded}
    assert not roots & {"ray", "torch", "optuna", "tunefw_plugins"}
    assert "tunefw.plugin_api.registry" not in loaded


def test_the_cli_starts_without_ray_tune_sklearn_or_torch():
    """``tunefw --help`` and shell completion build every command: the commands import the
    run machinery when they run, so starting the CLI takes about a second, not four."""
    loaded = modules_after("import tunefw.cli.main")
    roots = {m.split(".")[0] for m in loaded}
    assert not roots & {"sklearn", "torch", "optuna", "tunefw_plugins"}
    assert not loaded & {"ray.tune", "ray.job_submission"}


@pytest.mark.parametrize("old", sorted(MOVED))
def test_an_old_module_path_is_the_new_module_with_a_deprecation_warning(old):
    new = importlib.import_module(MOVED[old])
    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning, match=f"{old} moved to {MOVED[old]}"):
        module = importlib.import_module(old)
    assert module is new
    assert module.__spec__.name == MOVED[old], "the module keeps its own spec"


@pytest.mark.parametrize(
    ("package", "name", "new"),
    [
        ("tunefw.recipe", "Recipe", "tunefw.recipe.schema"),
        ("tunefw.prepare", "prepare_recipe", "tunefw.prepare.prepared"),
    ],
)
def test_a_name_of_a_module_that_became_a_package_still_imports(package, name, new):
    with pytest.warns(DeprecationWarning, match=f"{package}.{name} moved to {new}.{name}"):
        value = getattr(importlib.import_module(package), name)
    assert value is getattr(importlib.import_module(new), name)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(AttributeError, match="has no attribute 'nothing'"):
            importlib.import_module(package).nothing  # noqa: B018
