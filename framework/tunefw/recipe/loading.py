"""Read a recipe file, apply ``--set`` overrides, and validate it into a ``Recipe``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from tunefw.errors import RecipeError
from tunefw.recipe import yaml_text as recipe_yaml
from tunefw.recipe.messages import error_lines
from tunefw.recipe.schema import Recipe


class Verbatim(str):
    """An override whose value is set exactly as given, never read as YAML: ``--name`` and
    ``--storage`` (``--name 123`` is the name "123", ``--storage '~'`` the home directory),
    and the Python API's ``set`` (``{"search.num_samples": 50}``; the key a dotted path).

    A ``str`` (``KEY=VALUE``), so it travels in the same list as the ``--set`` overrides.
    """

    key: str
    value: Any

    def __new__(cls, key: str, value: Any) -> Verbatim:
        override = super().__new__(cls, f"{key}={value}")
        override.key, override.value = key, value
        return override


def flag_overrides(values: Mapping[str, str | None], shown: str = "") -> list[Verbatim]:
    """Fields set to the exact strings given (``name``, ``storage``), those not None; a blank
    one is refused, named ``shown`` + its field (``--name`` for the CLI's flag)."""
    for field, value in values.items():
        if value is not None and not str(value).strip():
            raise RecipeError(f"{shown}{field}: must not be empty")
    return [Verbatim(field, value) for field, value in values.items() if value is not None]


def parse_override(text: str) -> tuple[list[str], Any]:
    """``search.num_samples=50`` as (['search', 'num_samples'], 50).

    The value is read as YAML, so numbers, booleans, lists and mappings keep their type; the
    schema then types it like a value written in the file. A ``Verbatim`` keeps its string.
    """
    if isinstance(text, Verbatim):
        return text.key.split("."), text.value
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise RecipeError(f"--set {text!r}: expected KEY=VALUE, e.g. search.num_samples=50")
    value = recipe_yaml.load(raw, f"--set {text!r}") if raw.strip() else raw
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
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise RecipeError(f"{path}: file not found") from None
    except OSError as exc:
        raise RecipeError(f"{path}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise RecipeError(f"{path}: not a text file (byte {exc.start} is not UTF-8)") from None
    data = recipe_yaml.load(text, str(path))
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
