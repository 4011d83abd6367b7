"""Resolve ``module:attr`` (or ``module.attr``) import paths named in a recipe."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from tunefw.errors import RecipeError
from tunefw.plugin_api.user_code import call_user


def import_object(path: str, field: str) -> Any:
    """Import the object at ``path``; ``field`` names the recipe field in the error message.

    Importing runs the module's code, so whatever it raises or exits with is one line too.
    """
    module_name, sep, attr = path.partition(":")
    if not sep:
        module_name, _, attr = path.rpartition(".")
    if not module_name or not attr:
        raise RecipeError(f"{field}: {path!r} is not an import path like 'package.module:name'")
    obj: Any = call_user(field, f"importing {module_name!r}", importlib.import_module, module_name)
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise RecipeError(f"{field}: {module_name!r} has no attribute {attr!r}") from None
    return obj


def import_callable(path: str, field: str) -> Callable[..., Any]:
    """The function or class at ``path``; anything else (``math:pi``) is refused by name."""
    obj = import_object(path, field)
    if not callable(obj):
        raise RecipeError(f"{field}: {path!r} is a {type(obj).__name__}, not callable")
    fn: Callable[..., Any] = obj
    return fn


def recipe_import_paths(recipe_path: Path) -> list[str]:
    """Where a recipe's own modules are imported from: its directory, then the working one."""
    return [str(recipe_path.resolve().parent), str(Path.cwd())]


def extend_sys_path(paths: Iterable[str]) -> None:
    """Make ``paths`` importable in this process (each added once, after what is there)."""
    sys.path.extend(p for p in paths if p not in sys.path)
