"""The search space as data: one small pydantic model per parameter kind.

A recipe writes each parameter as a one-key mapping (``{loguniform: [1e-3, 1]}``) or as a plain
constant. The models validate their bounds where they are parsed, so a bad range is reported
with its dotted path, and know how to become a Ray Tune domain, a grid, or an Arrow column type.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Annotated, Any, ClassVar

import numpy as np
import pyarrow as pa
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    model_serializer,
    model_validator,
)
from ray import tune

from tunefw.errors import SpaceError

Scalar = bool | int | float | str


class _Param(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: ClassVar[str]
    log: ClassVar[bool] = False

    @abstractmethod
    def domain(self) -> Any:
        """The Ray Tune sampling domain (or a plain value for a constant)."""

    @abstractmethod
    def grid_values(self, points: int | None) -> list[Any]:
        """The finite values grid search visits; continuous kinds need ``points``."""

    @abstractmethod
    def arrow_type(self) -> pa.DataType:
        """The type of this parameter's ``config.<name>`` column in the result store."""


class _Range(_Param):
    """A numeric interval ``[low, high]``; both ends included for integers."""

    bounds: tuple[float, float]

    @model_validator(mode="after")
    def _check_bounds(self) -> _Range:
        low, high = self.bounds
        if not low < high:
            raise ValueError(f"empty or inverted range: low ({low}) must be < high ({high})")
        if self.log and low <= 0:
            raise ValueError(f"log-scale bounds must be > 0, got low={low}")
        return self

    def _points_error(self) -> SpaceError:
        return SpaceError(
            f"{self.kind} range {list(self.bounds)} has no finite grid; "
            "set search.params.points or use choice/grid"
        )


class Uniform(_Range):
    kind: ClassVar[str] = "uniform"
    bounds: tuple[float, float] = Field(alias="uniform")

    def domain(self) -> Any:
        return tune.uniform(*self.bounds)

    def grid_values(self, points: int | None) -> list[Any]:
        if points is None:
            raise self._points_error()
        return [float(v) for v in np.linspace(*self.bounds, points)]

    def arrow_type(self) -> pa.DataType:
        return pa.float64()


class LogUniform(_Range):
    kind: ClassVar[str] = "loguniform"
    bounds: tuple[float, float] = Field(alias="loguniform")
    log: ClassVar[bool] = True

    def domain(self) -> Any:
        return tune.loguniform(*self.bounds)

    def grid_values(self, points: int | None) -> list[Any]:
        if points is None:
            raise self._points_error()
        low, high = self.bounds
        return [float(v) for v in np.geomspace(low, high, points)]

    def arrow_type(self) -> pa.DataType:
        return pa.float64()


class IntRange(_Range):
    """Integers from low to high, both included (as in Optuna's ``suggest_int``)."""

    kind: ClassVar[str] = "int"
    bounds: tuple[int, int] = Field(alias="int")

    def domain(self) -> Any:
        low, high = self.bounds
        return tune.randint(low, high + 1)

    def grid_values(self, points: int | None) -> list[Any]:
        low, high = self.bounds
        if points is None:
            return list(range(low, high + 1))
        return sorted({round(v) for v in np.linspace(low, high, points)})

    def arrow_type(self) -> pa.DataType:
        return pa.int64()


class LogInt(IntRange):
    kind: ClassVar[str] = "logint"
    bounds: tuple[int, int] = Field(alias="logint")
    log: ClassVar[bool] = True

    def domain(self) -> Any:
        low, high = self.bounds
        return tune.lograndint(low, high + 1)

    def grid_values(self, points: int | None) -> list[Any]:
        low, high = self.bounds
        if points is None:
            return list(range(low, high + 1))
        return sorted({round(v) for v in np.geomspace(low, high, points)})


class _Options(_Param):
    values: list[Scalar] = Field(min_length=1)

    def grid_values(self, points: int | None) -> list[Any]:
        return list(self.values)

    def arrow_type(self) -> pa.DataType:
        return arrow_type_of(self.values)


class Choice(_Options):
    """Sampled uniformly among ``values``."""

    kind: ClassVar[str] = "choice"
    values: list[Scalar] = Field(alias="choice", min_length=1)

    def domain(self) -> Any:
        return tune.choice(list(self.values))


class Grid(_Options):
    """Every value is visited; with random search, the grid is crossed with the samples."""

    kind: ClassVar[str] = "grid"
    values: list[Scalar] = Field(alias="grid", min_length=1)

    def domain(self) -> Any:
        return tune.grid_search(list(self.values))


class Constant(_Param):
    """A fixed value, written in the recipe as a bare scalar."""

    kind: ClassVar[str] = "constant"
    value: Scalar

    @model_validator(mode="before")
    @classmethod
    def _wrap(cls, data: Any) -> Any:
        return data if isinstance(data, dict) else {"value": data}

    @model_serializer
    def _as_scalar(self) -> Scalar:
        return self.value

    def domain(self) -> Any:
        return self.value

    def grid_values(self, points: int | None) -> list[Any]:
        return [self.value]

    def arrow_type(self) -> pa.DataType:
        return arrow_type_of([self.value])


PARAM_KINDS = ("uniform", "loguniform", "int", "logint", "choice", "grid")


def _kind_of(value: Any) -> str | None:
    if isinstance(value, _Param):
        return value.kind
    if isinstance(value, dict):
        return next(iter(value)) if len(value) == 1 and next(iter(value)) in PARAM_KINDS else None
    if isinstance(value, (bool, int, float, str)):
        return "constant"
    return None


ParamSpec = Annotated[
    Annotated[Uniform, Tag("uniform")]
    | Annotated[LogUniform, Tag("loguniform")]
    | Annotated[IntRange, Tag("int")]
    | Annotated[LogInt, Tag("logint")]
    | Annotated[Choice, Tag("choice")]
    | Annotated[Grid, Tag("grid")]
    | Annotated[Constant, Tag("constant")],
    Discriminator(
        _kind_of,
        custom_error_type="param_kind",
        custom_error_message=(
            "expected a constant or one of {" + ", ".join(f"{k}: ..." for k in PARAM_KINDS) + "}"
        ),
    ),
]
"""One search-space parameter, as written in a recipe."""

SearchSpace = dict[str, ParamSpec]


def arrow_type_of(values: list[Any]) -> pa.DataType:
    """The narrowest Arrow type that holds every value; mixed kinds are stored as strings."""
    if all(isinstance(v, bool) for v in values):
        return pa.bool_()
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return pa.int64()
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return pa.float64()
    return pa.string()


def tune_param_space(space: dict[str, ParamSpec]) -> dict[str, Any]:
    """The space as Ray Tune's ``param_space``."""
    return {name: spec.domain() for name, spec in space.items()}
