"""Old module paths, kept importable for one release (tunefw 0.2) after the core was laid out
by stage: ``import tunefw.context`` gives ``tunefw.plugin_api.context`` itself (the same module
object, so classes and ``isinstance`` are the same) with a ``DeprecationWarning`` naming the new
path. Third-party plugins and packages made by an older ``tunefw new-plugin`` import them.

``tunefw.recipe`` and ``tunefw.prepare`` are packages now; their ``__getattr__`` serves the
names the old modules had (``from tunefw.recipe import Recipe``) the same way.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import warnings
from types import ModuleType

MOVED = {
    "tunefw.space": "tunefw.recipe.space",
    "tunefw.objective": "tunefw.recipe.objective",
    "tunefw.scheduler_sections": "tunefw.recipe.scheduler_sections",
    "tunefw.recipe_file": "tunefw.recipe.loading",
    "tunefw.recipe_yaml": "tunefw.recipe.yaml_text",
    "tunefw.validation_errors": "tunefw.recipe.messages",
    "tunefw.numbers": "tunefw.recipe.numbers",
    "tunefw.union_tags": "tunefw.recipe.union_tags",
    "tunefw.protocols": "tunefw.plugin_api.protocols",
    "tunefw.context": "tunefw.plugin_api.context",
    "tunefw.capabilities": "tunefw.plugin_api.capabilities",
    "tunefw.registry": "tunefw.plugin_api.registry",
    "tunefw.plugins": "tunefw.plugin_api.resolve",
    "tunefw.imports": "tunefw.plugin_api.imports",
    "tunefw.user_code": "tunefw.plugin_api.user_code",
    "tunefw.bilevel_problem": "tunefw.plugin_api.bilevel_problem",
    "tunefw.torch_target": "tunefw.plugin_api.torch_target",
    "tunefw.data": "tunefw.prepare.data",
    "tunefw.warm_start": "tunefw.prepare.warm_start",
    "tunefw.scheduler": "tunefw.prepare.schedulers",
    "tunefw.scheduler_folds": "tunefw.prepare.scheduler_folds",
    "tunefw.scheduler_epochs": "tunefw.prepare.scheduler_epochs",
    "tunefw.budget": "tunefw.prepare.budget",
    "tunefw.capacity": "tunefw.prepare.capacity",
    "tunefw.nested_folds": "tunefw.prepare.nested_folds",
    "tunefw.compile": "tunefw.running.compile",
    "tunefw.runner": "tunefw.running.runner",
    "tunefw.trial": "tunefw.running.trial",
    "tunefw.trial_events": "tunefw.running.trial_events",
    "tunefw.guards": "tunefw.running.guards",
    "tunefw.ray_connection": "tunefw.running.ray_connection",
    "tunefw.stages": "tunefw.running.stages",
    "tunefw.nested": "tunefw.running.nested",
    "tunefw.launch": "tunefw.running.launch",
    "tunefw.interrupts": "tunefw.running.interrupts",
    "tunefw.start_gate": "tunefw.running.start_gate",
    "tunefw.pareto_asha": "tunefw.prepare.pareto_asha",
    "tunefw.pending_trials": "tunefw.running.pending_trials",
    "tunefw.experiment_names": "tunefw.running.experiment_names",
    "tunefw.store.writer": "tunefw.running.result_writer",
    "tunefw.store.errors": "tunefw.running.trial_errors",
    "tunefw.pareto": "tunefw.store.pareto",
}
"""Old module name -> where it lives now."""


def warn_moved(old: str, new: str) -> None:
    warnings.warn(
        f"{old} moved to {new}; import it from there (the old path goes after tunefw 0.2)",
        DeprecationWarning,
        stacklevel=3,
    )


class _MovedFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds an old name and loads it as the module it moved to."""

    def __init__(self) -> None:
        self._specs: dict[str, importlib.machinery.ModuleSpec | None] = {}

    def find_spec(
        self, fullname: str, path: object = None, target: object = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in MOVED:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        warn_moved(spec.name, MOVED[spec.name])
        module = importlib.import_module(MOVED[spec.name])
        self._specs[module.__name__] = module.__spec__
        return module

    def exec_module(self, module: ModuleType) -> None:
        """Nothing to run, as the module is imported already; the import machinery has put
        the old name's spec on it, so its own goes back."""
        module.__spec__ = self._specs.pop(module.__name__)


def install() -> None:
    """Put the finder on ``sys.meta_path`` once."""
    if not any(isinstance(finder, _MovedFinder) for finder in sys.meta_path):
        sys.meta_path.append(_MovedFinder())


def moved_attribute(package: str, module: str, name: str) -> object:
    """``name`` of the module ``package`` was before it became a package, now in ``module``;
    an AttributeError as usual for a name it never had."""
    target = importlib.import_module(module)
    if name.startswith("_") or not hasattr(target, name):
        raise AttributeError(f"module {package!r} has no attribute {name!r}")
    warn_moved(f"{package}.{name}", f"{module}.{name}")
    return getattr(target, name)
