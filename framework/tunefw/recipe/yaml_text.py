"""YAML as a recipe or a ``--set`` value is read: YAML 1.2 numbers, nothing silently lost.

PyYAML follows YAML 1.1, where ``1e-4`` is a string, ``010`` is 8, ``1:30`` is 90 and
``2024-01-31`` a date; here numbers are read as YAML 1.2 reads them, and dates stay strings
(booleans and nulls are PyYAML's). A duplicate key would silently keep its last value, and an
alias shares one object between two places (so a ``--set`` on one would change both) and lets
a few lines expand to billions of values: both are refused. Nesting is bounded, so a crafted
file fails with one line instead of exhausting the stack.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node

from tunefw.errors import RecipeError

MAX_DEPTH = 100
"""Nested collections, at most; recipes use fewer than ten."""

_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_MERGE = "tag:yaml.org,2002:merge"
_YAML12_INT = re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$")
_YAML12_FLOAT = re.compile(
    r"""^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
    re.VERBOSE,
)


class _Refused(yaml.YAMLError):
    """What this loader refuses in YAML that PyYAML would accept, with the line it is on."""

    def __init__(self, what: str, mark: Any, why: str = "") -> None:  # PyYAML's or libyaml's Mark
        super().__init__(f"{what} at line {mark.line + 1}" + (f": {why}" if why else ""))


class _RecipeLoader(yaml.SafeLoader):
    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]  # untyped in types-PyYAML
        if isinstance(event, yaml.AliasEvent):
            why = "aliases are not supported; write the value out"
            raise _Refused(f"alias *{event.anchor}", event.start_mark, why)
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise _Refused(f"nested deeper than {MAX_DEPTH} levels", event.start_mark)
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen = set()
        for key_node, _ in node.value:
            if key_node.tag == _MERGE:
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
            except TypeError:  # unhashable: PyYAML's own construction refuses it
                continue
            if duplicate:
                raise _Refused(f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


def _construct_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    text = str(loader.construct_scalar(node))
    return int(text, 0) if text[:2] in ("0o", "0x") else int(text)


_RecipeLoader.yaml_implicit_resolvers = {  # PyYAML's, less its YAML 1.1 numbers and dates
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in (_INT, _FLOAT, _TIMESTAMP)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_RecipeLoader.add_implicit_resolver(_INT, _YAML12_INT, list("-+0123456789"))
_RecipeLoader.add_implicit_resolver(_FLOAT, _YAML12_FLOAT, list("-+0123456789."))
_RecipeLoader.add_constructor(_INT, _construct_int)


def _describe(exc: yaml.YAMLError) -> str:
    if isinstance(exc, _Refused):
        return str(exc)
    if isinstance(exc, yaml.reader.ReaderError):
        where = f"#x{exc.character:04x} at position {exc.position}"
        return f"not a text file (unprintable character {where})"
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or "cannot parse"
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    return f"invalid YAML{where}: {problem}"


def load(text: str, source: str) -> Any:
    """The YAML value in ``text``; any problem is a one-line ``RecipeError`` naming ``source``."""
    try:
        return yaml.load(text, Loader=_RecipeLoader)
    except yaml.YAMLError as exc:
        raise RecipeError(f"{source}: {_describe(exc)}") from None
