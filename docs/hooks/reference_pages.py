"""The generated pages of the docs site: the recipe reference and the plugins reference.

Both are Markdown rendered from the code (``Recipe``'s JSON schema; the registry's plugins and
their ``Params`` models), so they cannot drift from it. The docs site's mkdocs hook
(``docs/hooks/reference.py``, beside this file) adds them to every build; it is the docs'
code, not tunefw's, so tunefw does not ship it.
"""

from __future__ import annotations

import inspect
import json
import re
import sys
from collections.abc import Iterator
from typing import Any, NamedTuple, get_origin

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema
from pydantic_core import core_schema

from tunefw.plugin_api import capabilities, registry
from tunefw.recipe.schema import (
    Recipe,
    RegularizerSection,
    SearchSection,
    TrainableSection,
    ValidationSection,
)

RECIPE_PAGE = "reference/recipe.md"
PLUGINS_PAGE = "reference/plugins.md"
CAPABILITIES_PAGE = "reference/capabilities.md"

Schema = dict[str, Any]


class _Place(NamedTuple):
    """Where a plugin kind sits in a recipe."""

    section: type[BaseModel]
    selector: str
    """The field that names the plugin."""
    params: str | None
    """The field that holds its params; ``None``: the section's other keys do."""


#: Each kind's recipe section, also the name of the recipe field that holds it.
PLACES: dict[registry.Kind, _Place] = {
    "search": _Place(SearchSection, "strategy", "params"),
    "validation": _Place(ValidationSection, "strategy", None),
    "regularization": _Place(RegularizerSection, "name", None),
    "trainable": _Place(TrainableSection, "kind", None),
}

_TYPES = {
    "integer": "int",
    "number": "float",
    "string": "str",
    "boolean": "bool",
    "null": "null",
    "object": "mapping",
}
_BOUNDS = {
    "minimum": "≥",
    "exclusiveMinimum": ">",
    "maximum": "≤",
    "exclusiveMaximum": "<",
}


class _WithFactories(GenerateJsonSchema):
    """The JSON schema, with what each default factory makes as the field's default."""

    def get_default_value(self, schema: core_schema.WithDefaultSchema) -> Any:
        factory = schema.get("default_factory")
        if factory is not None and not schema.get("default_factory_takes_data"):
            return factory()  # type: ignore[call-arg]
        return super().get_default_value(schema)


def anchor(*parts: str) -> str:
    """The heading id of a section, e.g. ``anchor("search", "bayesian")``."""
    return "-".join(re.sub(r"[^a-z0-9_]+", "-", part.lower()).strip("-") for part in parts)


def pages() -> dict[str, str]:
    """Every generated page, by its path in the docs."""
    return {
        RECIPE_PAGE: recipe_reference(),
        PLUGINS_PAGE: plugins_reference(),
        CAPABILITIES_PAGE: capabilities_reference(),
    }


def declared_capabilities() -> list[type]:
    """Every capability ``tunefw.plugin_api.capabilities`` declares, in declaration order."""
    return [
        cls
        for cls in vars(capabilities).values()
        if isinstance(cls, type) and cls.__module__ == capabilities.__name__
    ]


def capabilities_table() -> str:
    """One row per capability, for docs/plugins.md: the kind it is for, its methods, and what
    it declares (its docstring's first paragraph)."""
    rows = ["| capability | for | methods | what it declares |", "|---|---|---|---|"]
    for cls in declared_capabilities():
        first = inspect.cleandoc(cls.__doc__ or "").split("\n\n")[0]
        kind, _, what = first.partition(":")
        methods = ", ".join(f"`{name}`" for name, _ in _hooks(cls)) or "none"
        what = _cell(_markdown(what.strip()))
        rows.append(f"| `{cls.__name__}` | {kind.lower()} | {methods} | {what} |")
    return "\n".join(rows) + "\n"


def _hooks(cls: type) -> list[tuple[str, Any]]:
    """The public methods a capability class defines itself."""
    return [
        (name, fn)
        for name, fn in vars(cls).items()
        if inspect.isfunction(fn) and not name.startswith("_")
    ]


def capabilities_reference() -> str:
    """Each optional capability: what it means, for which kind, and the methods it asks for."""
    lines = [
        "# Capabilities reference",
        "",
        inspect.cleandoc(capabilities.__doc__ or ""),
        "",
        "A plugin claims one by subclassing it (`class MyTrainable(Resumable):`); the methods"
        " marked *required* must then be defined. Generated from"
        " `tunefw.plugin_api.capabilities` when the docs are built; [Writing a"
        " plugin](../plugins.md) shows the kinds' Protocols.",
    ]
    for cls in declared_capabilities():
        lines += ["", f"## {cls.__name__}", "", _markdown(inspect.cleandoc(cls.__doc__ or ""))]
        for name, fn in _hooks(cls):
            need = "required" if getattr(fn, "__isabstractmethod__", False) else "optional"
            signature = str(inspect.signature(fn)).replace("self, ", "").replace("'", "")
            doc = " ".join(_markdown(inspect.cleandoc(fn.__doc__ or "")).split())
            lines += ["", f"- `{name}{signature}` ({need}): {doc}"]
    return "\n".join(lines) + "\n"


def recipe_reference() -> str:
    """The recipe schema, section by section: each field's type, default and description."""
    schema = Recipe.model_json_schema(schema_generator=_WithFactories)
    lines = [
        "# Recipe reference",
        "",
        "Every field a recipe may hold, generated from the schema (`tunefw.recipe.schema.Recipe`)"
        " when the docs are built. Unknown fields are errors everywhere; a field whose default"
        " says *required* must be given. Numbers are read as YAML 1.2 reads them (`1e-3` is a"
        " float); a duplicate key, an alias, or a boolean or `.inf`/`.nan` where a number goes"
        " is an error. Examples: [Recipes](../recipes.md), [Search](../search.md),"
        " [Clusters](../cluster.md).",
        "",
    ]
    lines += _Renderer(schema, "").model(schema, "Recipe", "Top level", "", level=2, root=True)
    return "\n".join(lines) + "\n"


def plugins_reference() -> str:
    """Every registered plugin, by kind: where it comes from, what it does, its params."""
    lines = [
        "# Plugins reference",
        "",
        "Every plugin registered through entry points where these docs were built, with its"
        " params, generated from each plugin's `Params` model. `tunefw plugins` lists those"
        " installed in your environment; [Writing a plugin](../plugins.md) shows how to add"
        " one. Unknown params are errors.",
        "",
        "| kind | entry-point group | named by | params |",
        "|---|---|---|---|",
    ]
    for kind, place in PLACES.items():
        path = _recipe_path(kind)
        section = f"recipe.md#{anchor(place.section.__name__)}"
        named = f"[`{path}.{place.selector}`]({section})"
        params = f"`{kind}.{place.params}`" if place.params else f"the other keys of `{path}`"
        group = registry.GROUPS[kind]
        lines.append(f"| [{kind}](#{anchor(kind)}) | `{group}` | {named} | {params} |")
    by_kind: dict[str, list[registry.PluginInfo]] = {}
    for info in registry.describe():
        by_kind.setdefault(info.kind, []).append(info)
    for kind in PLACES:
        infos = by_kind.get(kind, [])
        names = ", ".join(f"[`{i.name}`](#{anchor(kind, i.name)})" for i in infos)
        lines += ["", f"## {kind} {{#{anchor(kind)}}}", "", names or "None installed."]
        for info in infos:
            lines += _plugin(info)
    return "\n".join(lines) + "\n"


def _recipe_path(kind: registry.Kind) -> str:
    """The recipe path of a kind's section: ``regularization[]`` for a list's entries."""
    field = Recipe.model_fields[kind]
    return f"{kind}[]" if get_origin(field.annotation) is list else kind


def _plugin(info: registry.PluginInfo) -> list[str]:
    lines = [
        "",
        f"### {info.name} {{#{anchor(info.kind, info.name)}}}",
        "",
        f"`{info.target}`, from {info.package} {info.version}.",
        "",
    ]
    if info.error:
        return [*lines, f"!!! failure\n    {info.error}"]
    cls = registry.load(info.kind, info.name)
    doc = cls.__doc__ or getattr(sys.modules.get(cls.__module__), "__doc__", None)
    if doc:
        lines += [_markdown(inspect.cleandoc(doc)), ""]
    claimed = [c.__name__ for c in declared_capabilities() if issubclass(cls, c)]
    if claimed:
        links = ", ".join(f"[`{name}`](capabilities.md#{anchor(name)})" for name in claimed)
        lines += [f"Capabilities: {links}.", ""]
    params: type[BaseModel] = cls.Params
    schema = params.model_json_schema(schema_generator=_WithFactories)
    if not schema.get("properties"):
        return [*lines, "No params."]
    renderer = _Renderer(schema, anchor(info.kind, info.name))
    return lines + renderer.model(schema, "Params", "", "", level=4, root=True)


class _Renderer:
    """Markdown for one JSON schema: a table per model, one section per model it refers to."""

    def __init__(self, root: Schema, prefix: str) -> None:
        self.defs: dict[str, Schema] = root.get("$defs", {})
        self.prefix = prefix
        self.done: set[str] = set()

    def anchor(self, name: str) -> str:
        return anchor(self.prefix, name) if self.prefix else anchor(name)

    def model(
        self, schema: Schema, name: str, title: str, path: str, level: int, root: bool = False
    ) -> list[str]:
        """A model's section: its description, its fields' table, then the models they use.

        ``title`` heads the section (none if empty); ``path`` is the model's place in the
        recipe (``search.warm_start``). A root's nested sections sit at its own level.
        """
        self.done.add(name)
        lines = [f"{'#' * level} {title} {{#{self.anchor(name)}}}", ""] if title else []
        if schema.get("description"):
            lines += [_markdown(schema["description"]), ""]
        lines += [
            "| field | type | default | constraints | description |",
            "|---|---|---|---|---|",
        ]
        required = set(schema.get("required", ()))
        nested: list[tuple[str, list[str]]] = []
        for field, spec in schema.get("properties", {}).items():
            default = "*required*" if field in required else self.default(spec)
            description = spec.get("description", "")
            kind = self._params_of(name, field)
            if kind:
                description = f"{description} {_plugins_link(kind)}".strip()
            row = [f"`{field}`", self.type(spec), default, _constraints(spec), description]
            lines.append("| " + " | ".join(_cell(c) for c in row) + " |")
            refs = [ref for ref in dict.fromkeys(_refs(spec)) if ref not in self.done]
            if refs:
                nested.append((".".join(filter(None, [path, field])) + _suffix(spec), refs))
        if schema.get("additionalProperties") is True:
            kind = self._params_of(name, None)
            lines += ["", f"Other keys: {_plugins_link(kind)}." if kind else "Other keys allowed."]
        for field_path, refs in nested:
            lines += ["", *self.field(field_path, refs, level if root else level + 1)]
        return lines

    def field(self, path: str, refs: list[str], level: int) -> list[str]:
        """The sections of the models a field holds: one, or a heading over each choice."""
        if len(refs) == 1:
            return self.model(self.defs[refs[0]], refs[0], path, path, level)
        links = ", ".join(f"[{ref}](#{self.anchor(ref)})" for ref in refs)
        lines = [f"{'#' * level} {path} {{#{self.anchor(path)}}}", "", f"One of: {links}."]
        for ref in refs:
            lines += ["", *self.model(self.defs[ref], ref, f"{path}: {ref}", path, level + 1)]
        return lines

    def _params_of(self, name: str, field: str | None) -> registry.Kind | None:
        """The plugin kind whose params ``field`` of model ``name`` holds (``None``: its other
        keys), if any; only in the recipe's own schema."""
        if self.prefix:
            return None
        for kind, place in PLACES.items():
            if place.section.__name__ == name and place.params == field:
                return kind
        return None

    def default(self, spec: Schema) -> str:
        """A field's default; a model's own defaults (a scheduler's: its type's) by link."""
        value = spec.get("default")
        if isinstance(value, dict):
            for ref in dict.fromkeys(_refs(spec)):
                fields = self.defs[ref].get("properties", {})
                if all(
                    key in fields and fields[key].get("default") == v for key, v in value.items()
                ):
                    return f"the defaults of [{ref}](#{self.anchor(ref)})"
        return f"`{_yaml(value)}`"

    def type(self, spec: Schema) -> str:
        """A field's type, as a reader writes it; models link to their section."""
        if "$ref" in spec:
            name = _ref_name(spec["$ref"])
            return f"[{name}](#{self.anchor(name)})"
        for union in ("anyOf", "oneOf"):
            if union in spec:
                return " or ".join(self.type(branch) for branch in spec[union])
        if "const" in spec:
            return f"`{_yaml(spec['const'])}`"
        if "enum" in spec:
            return "one of " + ", ".join(f"`{_yaml(v)}`" for v in spec["enum"])
        kind = spec.get("type")
        if kind == "array":
            if "prefixItems" in spec:
                return "[" + ", ".join(self.type(item) for item in spec["prefixItems"]) + "]"
            return f"list of {self.inner(spec['items'])}" if "items" in spec else "list"
        if kind == "object" and isinstance(spec.get("additionalProperties"), dict):
            return f"mapping of str to {self.inner(spec['additionalProperties'])}"
        return _TYPES.get(str(kind), "any")

    def inner(self, spec: Schema) -> str:
        """A container's item type, in parentheses if it is a choice."""
        text = self.type(spec)
        return f"({text})" if {"anyOf", "oneOf", "enum"} & set(spec) else text


def _plugins_link(kind: registry.Kind) -> str:
    return f"the {registry.LABELS[kind]}'s params, see [{kind} plugins](plugins.md#{anchor(kind)})"


def _refs(spec: Any) -> Iterator[str]:
    """The models a field's schema refers to, in order."""
    if isinstance(spec, dict):
        if "$ref" in spec:
            yield _ref_name(spec["$ref"])
        for value in spec.values():
            yield from _refs(value)
    elif isinstance(spec, list):
        for value in spec:
            yield from _refs(value)


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def _suffix(spec: Schema) -> str:
    """How a nested model's path continues: ``[]`` for list items, ``.NAME`` for mappings."""
    branches = [spec, *spec.get("anyOf", ())]
    if any(b.get("type") == "array" for b in branches):
        return "[]"
    if any(isinstance(b.get("additionalProperties"), dict) for b in branches):
        return ".NAME"
    return ""


def _constraints(spec: Schema) -> str:
    found = []
    for branch in [spec, *spec.get("anyOf", ())]:
        found += [f"{sign} {_yaml(branch[key])}" for key, sign in _BOUNDS.items() if key in branch]
        if "minLength" in branch:
            found.append(f"at least {branch['minLength']} characters")
        if "pattern" in branch:
            found.append(f"matches `{branch['pattern']}`")
        if branch.get("type") == "array" and "prefixItems" not in branch:
            low, high = branch.get("minItems"), branch.get("maxItems")
            if low == 1:
                found.append("not empty")
            elif low is not None:
                found.append(f"at least {low} items")
            if high is not None:
                found.append(f"at most {high} items")
    return ", ".join(found)


def _yaml(value: Any) -> str:
    """``value`` in YAML flow style, floats with a dot so that YAML 1.1 reads them back."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        text = repr(value)
        return re.sub(r"^(-?\d+)e", r"\1.0e", text)
    if isinstance(value, str):
        return json.dumps(value) if not value or re.search(r"[:#{}\[\],]", value) else value
    if isinstance(value, list):
        return "[" + ", ".join(_yaml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_yaml(v)}" for k, v in value.items()) + "}"
    return str(value)


def _markdown(text: str) -> str:
    """A docstring as Markdown: reST's double-backquoted literals become code spans."""
    return re.sub(r"``(.+?)``", r"`\1`", text, flags=re.DOTALL)


def _cell(text: str) -> str:
    """Table-cell text: one line, pipes outside code spans escaped."""
    parts = " ".join(text.split()).split("`")
    return "`".join(p if i % 2 else p.replace("|", "\\|") for i, p in enumerate(parts))
