"""Read a recipe file, apply ``--set`` overrides, and validate it into a ``Recipe``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from tunefw.errors import RecipeError
from tunefw.recipe import Recipe
from tunefw.validation_errors import error_lines


def parse_override(text: str) -> tuple[list[str], Any]:
    """``search.num_samples=50`` as (['search', 'num_samples'], 50).

    The value is read as YAML, so numbers, booleans, lists and mappings keep their type; the
    schema then types it like a value written in the file.
    """
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise RecipeError(f"--set {text!r}: expected KEY=VALUE, e.g. search.num_samples=50")
    try:
        value = yaml.safe_load(raw) if raw.strip() else raw
    except yaml.YAMLError:
        value = raw
    return key.strip().split("."), value


def apply_overrides(data: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """A copy of ``data`` with each dotted ``KEY=VALUE`` override set."""
    for text in overrides:
        path, value = parse_override(text)
        node = data
        for i, part in enumerate(path[:-1]):
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                prefix = ".".join(path[: i + 1])
                raise RecipeError(f"--set {text!r}: {prefix} is not a mapping")
            node = child
        node[path[-1]] = value
    return data


def read_yaml(path: Path) -> dict[str, Any]:
    """The YAML mapping in ``path``; any problem is a one-line ``RecipeError`` naming the file."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise RecipeError(f"{path}: file not found") from None
    except OSError as exc:
        raise RecipeError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "cannot parse"
        raise RecipeError(f"{path}: invalid YAML{where}: {problem}") from None
    if not isinstance(data, dict):
        raise RecipeError(f"{path}: a recipe must be a YAML mapping, got {type(data).__name__}")
    return data


def validate_recipe(data: dict[str, Any], source: str) -> Recipe:
    """Validate raw recipe data; errors name ``source`` and each field's dotted path."""
    try:
        return Recipe.model_validate(data)
    except ValidationError as exc:
        raise RecipeError("\n".join(f"{source}: {line}" for line in error_lines(exc))) from None


def load_recipe(path: str | Path, overrides: Sequence[str] = ()) -> Recipe:
    """Load, override and validate the recipe at ``path``."""
    path = Path(path)
    return validate_recipe(apply_overrides(read_yaml(path), overrides), str(path))
