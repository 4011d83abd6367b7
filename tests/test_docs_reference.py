"""The generated docs pages list every recipe field and every registered plugin with its params."""

from __future__ import annotations

import importlib
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, get_args

import pytest
from pydantic import BaseModel

from tunefw.plugin_api import registry
from tunefw.recipe.schema import Recipe

sys.path.insert(0, str(Path(__file__).parents[1] / "docs" / "hooks"))
docs_reference = importlib.import_module("reference_pages")  # the docs' generator, not tunefw
PLACES, anchor = docs_reference.PLACES, docs_reference.anchor


def _sections(page: str) -> dict[str, str]:
    """Each section's text, up to the next heading with an id, by its heading id."""
    parts = re.split(r"^#+ .*\{#([\w-]+)\}$", page, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def _models(annotation: Any) -> Iterator[type[BaseModel]]:
    """Every model in a type annotation (inside unions, lists, mappings, ``Annotated``)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
    for arg in get_args(annotation):
        yield from _models(arg)


def _recipe_models() -> dict[str, type[BaseModel]]:
    found: dict[str, type[BaseModel]] = {}
    todo = [Recipe]
    while todo:
        model = todo.pop()
        if model.__name__ not in found:
            found[model.__name__] = model
            todo += [m for f in model.model_fields.values() for m in _models(f.annotation)]
    return found


def _row(section: str, field: str) -> str:
    rows = [line for line in section.splitlines() if line.startswith(f"| `{field}` |")]
    assert len(rows) == 1, f"no row (or several) for {field!r}"
    return rows[0]


@pytest.fixture(scope="module")
def recipe_page() -> dict[str, str]:
    return _sections(docs_reference.recipe_reference())


@pytest.fixture(scope="module")
def plugins_page() -> dict[str, str]:
    return _sections(docs_reference.plugins_reference())


def test_recipe_reference_lists_every_field_of_every_section(recipe_page: dict[str, str]) -> None:
    models = _recipe_models()
    assert {"Recipe", "SearchSection", "Resources", "Asha", "Uniform", "Bundle"} <= set(models)
    for name, model in models.items():
        section = recipe_page[anchor(name)]
        for field_name, field in model.model_fields.items():
            row = _row(section, field.alias or field_name)
            assert ("*required*" in row) == field.is_required(), row
            if field.description:
                assert " ".join(field.description.split()) in row


def test_plugin_sections_point_to_the_plugin_reference(recipe_page: dict[str, str]) -> None:
    for kind, place in PLACES.items():
        assert f"(plugins.md#{anchor(kind)})" in recipe_page[anchor(place.section.__name__)]


def test_plugins_reference_lists_every_plugin_with_its_params(
    plugins_page: dict[str, str],
) -> None:
    infos = registry.describe()
    assert {(i.kind, i.name) for i in infos} >= {("search", "bayesian"), ("trainable", "sklearn")}
    for info in infos:
        section = plugins_page[anchor(info.kind, info.name)]
        assert info.target in section and info.package in section
        params: type[BaseModel] = registry.load(info.kind, info.name).Params
        if not params.model_fields:
            assert "No params." in section
        for field_name, field in params.model_fields.items():
            row = _row(section, field.alias or field_name)
            assert ("*required*" in row) == field.is_required(), row
            if field.description:
                assert " ".join(field.description.split()) in row


def test_every_generated_page_is_in_the_nav() -> None:
    nav = (Path(__file__).resolve().parent.parent / "mkdocs.yml").read_text()
    for path in docs_reference.pages():
        assert f": {path}" in nav


def test_every_capability_is_in_the_reference_and_the_plugins_table() -> None:
    page = docs_reference.capabilities_reference()
    table = docs_reference.capabilities_table()
    declared = docs_reference.declared_capabilities()
    assert {c.__name__ for c in declared} >= {"Resumable", "Differentiable", "NestedValidation"}
    for cls in declared:
        assert f"\n## {cls.__name__}\n" in page
        assert f"| `{cls.__name__}` |" in table
    assert "- `drive(ctx: TrialContext, trainable: Any" in page and "(required)" in page
    plugins_md = (Path(__file__).resolve().parent.parent / "docs/plugins.md").read_text()
    assert "<!-- capabilities -->" in plugins_md, "the hook puts the table there"


def test_the_plugins_reference_names_each_plugins_capabilities(
    plugins_page: dict[str, str],
) -> None:
    assert "[`Resumable`](capabilities.md#resumable)" in plugins_page[anchor("trainable", "torch")]
    nested = plugins_page[anchor("validation", "nested")]
    assert "[`NestedValidation`](capabilities.md#nestedvalidation)" in nested
    assert "Capabilities:" not in plugins_page[anchor("validation", "kfold")]
