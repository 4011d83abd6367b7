"""The recipe: what a user writes, validated (schema, space, objective, scheduler sections),
and how it is read from YAML with ``--set`` overrides. Imports no other tunefw layer."""

from tunefw.moved import moved_attribute


def __getattr__(name: str) -> object:
    return moved_attribute(__name__, "tunefw.recipe.schema", name)
