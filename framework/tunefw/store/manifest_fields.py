"""The manifest fields tunefw reads, checked before anything reads them.

A manifest is data from disk, trusted no more than a user's input: a name in it is checked
as a name on the command line is (``check_name``), so none leads a read outside the storage
root, and a missing or mistyped field is one line naming the file and the field. Fields
tunefw does not read are left as they are.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError

from tunefw.errors import StoreError
from tunefw.recipe.messages import error_lines
from tunefw.recipe.objective import Objective
from tunefw.store.layout import check_name


def _name(value: str) -> str:
    try:
        return check_name(value)
    except StoreError as exc:
        raise ValueError(str(exc)) from None


Name = Annotated[str, AfterValidator(_name)]


class _Fields(BaseModel):
    model_config = ConfigDict(extra="allow")


class _Search(_Fields):
    strategy: str


class _Scheduler(_Fields):
    type: str


class _Recipe(_Fields):
    """What the read commands take from the recipe as run; ``resume`` validates all of it."""

    name: str
    objective: Objective
    search: _Search
    scheduler: _Scheduler


class _Stage(_Fields):
    stage: str
    experiment: Name
    warm_started_from: Name | None = None
    trials: int
    best: float | None


class _Nested(_Fields):
    metric: str
    outer_scores: list[float]
    outer_experiments: list[Name] = []


class _StoppedBy(_Fields):
    rule: str
    trials: int
    trial_id: str
    reason: str


class _Manifest(_Fields):
    schema_version: str
    experiment: Name
    status: Literal["running", "completed", "incomplete", "failed", "interrupted"]
    started_at: str | None = None
    ended_at: str | None = None
    resumed_at: list[str] = []
    import_paths: list[str] | None = None
    recipe: _Recipe
    stages: list[_Stage] | None = None
    nested: _Nested | None = None
    stopped_by: _StoppedBy | None = None


def check_manifest(data: dict[str, Any], source: str) -> None:
    """Refuse ``data``, read from ``source``, in one line if a field tunefw reads is wrong."""
    try:
        _Manifest.model_validate(data)
    except ValidationError as exc:
        lines = error_lines(exc)
        more = f" (and {len(lines) - 1} more)" if len(lines) > 1 else ""
        raise StoreError(f"{source}: {lines[0]}{more}") from None
