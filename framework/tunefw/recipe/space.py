"""The search space as data: one small pydantic model per parameter kind.

A recipe writes each parameter as a mapping with one kind key (``{loguniform: [1e-3, 1]}``) or as
a plain constant. ``uniform`` and ``int`` take a ``step`` (quantized values), and any sampled
parameter a ``when`` condition (``{loguniform: [1e-4, 1], when: {kernel: rbf}}``): it exists only
in configs where each named parameter has one of the given values, and a ``prior`` (with a
``confidence``): where the user believes the optimum is. ``ordinal`` values, and a ``choice``
of numbers, are ordered: model-based strategies see their position, not unrelated categories.
The models validate their bounds where they are parsed, so a bad range is reported with its
dotted path, and know how to become a Ray Tune domain, a grid, or an Arrow column type.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal

import numpy as np
import pyarrow as pa
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    SerializerFunctionWrapHandler,
    Tag,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    model_serializer,
    model_validator,
)

from tunefw.errors import SpaceError
from tunefw.recipe.numbers import FiniteFloat, Int, check_finite, check_int64
from tunefw.recipe.union_tags import tags


def _scalar(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    """One error for a value that is no scalar (the union would report one per member);
    numbers finite and within int64, as the store's columns need."""
    try:
        scalar = handler(value)
    except ValidationError:
        raise ValueError(
            f"expected a number, a string or a boolean, got {type(value).__name__}"
        ) from None
    if isinstance(scalar, float):
        return check_finite(scalar)
    if isinstance(scalar, int) and not isinstance(scalar, bool):
        return check_int64(scalar)
    return scalar


Scalar = Annotated[bool | int | float | str, WrapValidator(_scalar)]
"""A constant, a choice or a condition's value."""


def _as_list(value: Any) -> Any:
    return value if isinstance(value, list) else [value]


Condition = dict[str, Annotated[list[Scalar], BeforeValidator(_as_list)]]
"""``{parent: [values]}``: the parameter exists when every parent takes one of its values."""

Confidence = Literal["low", "medium", "high"]
"""How sure the user is of a ``prior``: how narrow the belief around it is."""


def _ray_tune() -> Any:
    """Ray Tune, imported when a space is first turned into Ray's search domains: reading a
    recipe (the store, ``tunefw validate``, a trial's worker) does not load it for that."""
    from ray import tune

    return tune


class _Param(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: ClassVar[str]
    log: ClassVar[bool] = False
    takes_prior: ClassVar[bool] = True
    when: Condition | None = None
    prior: Scalar | None = Field(None, description="Where the optimum is believed to be.")
    confidence: Confidence | None = Field(None, description="How sure the prior is (medium).")

    @model_validator(mode="after")
    def _check_prior(self) -> _Param:
        if self.confidence is not None and self.prior is None:
            raise ValueError("confidence is given without a prior")
        if self.prior is not None and not self.takes_prior:
            raise ValueError(f"{self.kind} visits every value, so it takes no prior")
        if self.prior is not None and not self.contains(self.prior):
            raise ValueError(f"prior {self.prior!r} is outside the parameter ({self._extent()})")
        return self

    def _extent(self) -> str:
        """The parameter's values or range, as an error message shows them."""
        return f"values {self.grid_values(None)}"

    @model_serializer(mode="wrap")
    def _only_given(self, handler: SerializerFunctionWrapHandler) -> Any:
        """Dump only the fields the recipe gave, so a dumped space reads like the recipe."""
        data = handler(self)
        given = set(self.model_fields_set)
        given |= {f.alias for n, f in type(self).model_fields.items() if n in given and f.alias}
        kept = [(key, value) for key, value in data.items() if key in given]
        return dict(sorted(kept, key=lambda item: item[0] not in PARAM_KINDS))  # kind first

    def active(self, config: Mapping[str, Any]) -> bool:
        """Whether this parameter exists in ``config``, given its parents' values there."""
        if self.when is None:
            return True
        return all(
            parent in config and config[parent] in values for parent, values in self.when.items()
        )

    @abstractmethod
    def domain(self) -> Any:
        """The Ray Tune sampling domain (or a plain value for a constant)."""

    @abstractmethod
    def grid_values(self, points: int | None) -> list[Any]:
        """The finite values grid search visits; continuous kinds need ``points``."""

    @abstractmethod
    def arrow_type(self) -> pa.DataType:
        """The type of this parameter's ``config.<name>`` column in the result store."""

    @abstractmethod
    def contains(self, value: Any) -> bool:
        """Whether ``value`` is one this parameter can take."""


class Range(_Param):
    """A numeric interval ``[low, high]``; both ends included for integers."""

    bounds: tuple[FiniteFloat, FiniteFloat]

    @model_validator(mode="after")
    def _check_bounds(self) -> Range:
        low, high = self.bounds
        if not low < high:
            raise ValueError(f"empty or inverted range: low ({low}) must be < high ({high})")
        if self.log and low <= 0:
            raise ValueError(f"log-scale bounds must be > 0, got low={low}")
        return self

    def _check_step(self, step: float | None) -> None:
        if step is None:
            return
        low, high = self.bounds
        if step <= 0:
            raise ValueError(f"step must be > 0, got {step}")
        span = (high - low) / step
        if abs(span - round(span)) > 1e-9 * max(1.0, span):
            raise ValueError(f"high - low ({high - low}) must be a multiple of step ({step})")

    def _extent(self) -> str:
        return f"{self.kind} {list(self.bounds)}"

    def contains(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
            return False
        number, (low, high) = float(value), self.bounds
        tolerance = 1e-9 * max(1.0, abs(high - low))
        if not low - tolerance <= number <= high + tolerance:
            return False
        if isinstance(self, IntRange) and number != round(number):
            return False
        step = getattr(self, "step", None)
        if step:
            k = (number - low) / step
            return bool(abs(k - round(k)) < 1e-6)
        return True

    def nearest(self, value: float) -> float | int:
        """The value of this range closest to ``value``: clipped, on the step, integral."""
        low, high = self.bounds
        step = getattr(self, "step", None) or (1 if isinstance(self, IntRange) else None)
        clipped = min(max(float(value), low), high)
        if step:
            clipped = min(low + step * round((clipped - low) / step), high)
        return round(clipped) if isinstance(self, IntRange) else clipped

    def _points_error(self) -> SpaceError:
        return SpaceError(
            f"{self.kind} range {list(self.bounds)} has no finite grid; "
            "set search.params.points or use choice/grid"
        )


class Uniform(Range):
    """Floats in ``[low, high]``; with ``step``, only ``low + k * step`` (quantized)."""

    kind: ClassVar[str] = "uniform"
    bounds: tuple[FiniteFloat, FiniteFloat] = Field(alias="uniform")
    step: FiniteFloat | None = None

    @model_validator(mode="after")
    def _step_divides(self) -> Uniform:
        self._check_step(self.step)
        return self

    def domain(self) -> Any:
        low, high = self.bounds
        return (
            _ray_tune().uniform(low, high)
            if self.step is None
            else _ray_tune().quniform(low, high, self.step)
        )

    def grid_values(self, points: int | None) -> list[Any]:
        low, high = self.bounds
        if self.step is not None and points is None:
            count = round((high - low) / self.step) + 1
            return [float(low + k * self.step) for k in range(count)]
        if points is None:
            raise self._points_error()
        return [float(v) for v in np.linspace(low, high, points)]

    def arrow_type(self) -> pa.DataType:
        return pa.float64()


class LogUniform(Range):
    kind: ClassVar[str] = "loguniform"
    bounds: tuple[FiniteFloat, FiniteFloat] = Field(alias="loguniform")
    log: ClassVar[bool] = True

    def domain(self) -> Any:
        return _ray_tune().loguniform(*self.bounds)

    def grid_values(self, points: int | None) -> list[Any]:
        if points is None:
            raise self._points_error()
        low, high = self.bounds
        return [float(v) for v in np.geomspace(low, high, points)]

    def arrow_type(self) -> pa.DataType:
        return pa.float64()


class IntRange(Range):
    """Integers from low to high, both included (as in Optuna's ``suggest_int``), by ``step``."""

    kind: ClassVar[str] = "int"
    bounds: tuple[Int, Int] = Field(alias="int")
    step: Int = Field(1, ge=1)

    @model_validator(mode="after")
    def _step_divides(self) -> IntRange:
        self._check_step(self.step)
        return self

    def domain(self) -> Any:
        low, high = self.bounds
        if self.step > 1:
            return _ray_tune().qrandint(low, high, self.step)
        return _ray_tune().randint(low, high + 1)

    def grid_values(self, points: int | None) -> list[Any]:
        low, high = self.bounds
        if points is None:
            return list(range(low, high + 1, self.step))
        return sorted(
            {low + self.step * round((v - low) / self.step) for v in np.linspace(low, high, points)}
        )

    def arrow_type(self) -> pa.DataType:
        return pa.int64()


class LogInt(IntRange):
    kind: ClassVar[str] = "logint"
    bounds: tuple[Int, Int] = Field(alias="logint")
    step: Literal[1] = Field(1, description="Log-scale integers take no step.")
    log: ClassVar[bool] = True

    def domain(self) -> Any:
        low, high = self.bounds
        return _ray_tune().lograndint(low, high + 1)

    def grid_values(self, points: int | None) -> list[Any]:
        low, high = self.bounds
        if points is None:
            return list(range(low, high + 1))
        return sorted({round(v) for v in np.geomspace(low, high, points)})


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class Options(_Param):
    """A parameter that takes one of listed values."""

    values: list[Scalar] = Field(min_length=1)

    def contains(self, value: Any) -> bool:
        return any(
            value == v and isinstance(value, bool) == isinstance(v, bool) for v in self.values
        )

    def order(self) -> list[Scalar] | None:
        """The values in their order, smallest first, if they have one (None: categories)."""
        return None

    def grid_values(self, points: int | None) -> list[Any]:
        return list(self.values)

    def arrow_type(self) -> pa.DataType:
        return arrow_type_of(self.values)


def _ordered(values: list[Scalar]) -> list[Scalar]:
    """Numbers sorted; words in the order written. Raises ``ValueError`` for mixed kinds or
    repeated values, which have no order."""
    if len(set(map(repr, values))) < len(values):
        raise ValueError(f"ordered values must be distinct, got {values}")
    if all(_is_number(v) for v in values):
        return sorted(values, key=float)
    if all(isinstance(v, str) for v in values):
        return list(values)
    kinds = sorted({type(v).__name__ for v in values})
    raise ValueError(f"ordered values must be all numbers or all strings, got {'/'.join(kinds)}")


def geometric(values: list[Scalar]) -> bool:
    """Whether ordered ``values`` are positive numbers spaced by a constant ratio."""
    if len(values) < 3 or not all(_is_number(v) and float(v) > 0 for v in values):
        return False
    ratios = np.diff(np.log([float(v) for v in values]))
    return bool(np.ptp(ratios) <= 0.05 * abs(ratios.mean()) and ratios.mean() > 0)


class Choice(Options):
    """Sampled uniformly among ``values``; numbers are ordered (``ordered: false`` says not)."""

    kind: ClassVar[str] = "choice"
    values: list[Scalar] = Field(alias="choice", min_length=1)
    ordered: bool | None = Field(
        None, description="Model the values' order; the default: when they are all numbers."
    )

    @model_validator(mode="after")
    def _check_order(self) -> Choice:
        if self.ordered:
            _ordered(self.values)
        return self

    def order(self) -> list[Scalar] | None:
        if self.ordered is False or len(self.values) < 2:
            return None
        if self.ordered is None and not all(_is_number(v) for v in self.values):
            return None
        try:
            return _ordered(self.values)
        except ValueError:  # repeated numbers: sampled as categories, as written
            return None

    def domain(self) -> Any:
        return _ray_tune().choice(list(self.values))


class Ordinal(Options):
    """Ordered values (numbers, sorted, or words in the order written), sampled uniformly by
    random search; model-based strategies see each value's position in the order."""

    kind: ClassVar[str] = "ordinal"
    values: list[Scalar] = Field(alias="ordinal", min_length=2)

    @model_validator(mode="after")
    def _check_order(self) -> Ordinal:
        _ordered(self.values)
        return self

    def order(self) -> list[Scalar]:
        return _ordered(self.values)

    def domain(self) -> Any:
        return _ray_tune().choice(list(self.values))


class Grid(Options):
    """Every value is visited; with random search, the grid is crossed with the samples."""

    kind: ClassVar[str] = "grid"
    values: list[Scalar] = Field(alias="grid", min_length=1)
    takes_prior: ClassVar[bool] = False

    def domain(self) -> Any:
        return _ray_tune().grid_search(list(self.values))


class Constant(_Param):
    """A fixed value, written in the recipe as a bare scalar."""

    kind: ClassVar[str] = "constant"
    value: Scalar
    when: None = None
    takes_prior: ClassVar[bool] = False

    @model_validator(mode="before")
    @classmethod
    def _wrap(cls, data: Any) -> Any:
        return data if isinstance(data, dict) else {"value": data}

    @model_serializer
    def _as_scalar(self) -> Scalar:
        return self.value

    def domain(self) -> Any:
        return self.value

    def contains(self, value: Any) -> bool:
        return bool(value == self.value)

    def grid_values(self, points: int | None) -> list[Any]:
        return [self.value]

    def arrow_type(self) -> pa.DataType:
        return arrow_type_of([self.value])


_Kinds = (
    Annotated[Uniform, Tag("uniform")]
    | Annotated[LogUniform, Tag("loguniform")]
    | Annotated[IntRange, Tag("int")]
    | Annotated[LogInt, Tag("logint")]
    | Annotated[Choice, Tag("choice")]
    | Annotated[Ordinal, Tag("ordinal")]
    | Annotated[Grid, Tag("grid")]
    | Annotated[Constant, Tag("constant")]
)
PARAM_KINDS = tuple(kind for kind in tags(_Kinds) if kind != "constant")
"""The kinds written as a key (``{uniform: [0, 1]}``); a constant is a bare value."""


def _kind_of(value: Any) -> str | None:
    if isinstance(value, _Param):
        return value.kind
    if isinstance(value, dict):
        kinds = [key for key in value if key in PARAM_KINDS]
        return kinds[0] if len(kinds) == 1 else None
    if isinstance(value, (bool, int, float, str)):
        return "constant"
    return None


ParamSpec = Annotated[
    _Kinds,
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


def conditional(space: Mapping[str, ParamSpec]) -> list[str]:
    """The parameters that exist only under a ``when`` condition."""
    return [name for name, spec in space.items() if spec.when is not None]


def sampling_order(space: Mapping[str, ParamSpec]) -> list[str]:
    """Parameter names with every ``when`` parent before its children.

    Raises ``SpaceError`` naming the parameter for a parent that does not exist, a value the
    parent can never take, or a cycle of conditions.
    """
    order: list[str] = []
    visiting: list[str] = []

    def visit(name: str) -> None:
        if name in order:
            return
        if name in visiting:
            cycle = " -> ".join([*visiting[visiting.index(name) :], name])
            raise SpaceError(f"search.space.{name}.when: conditions form a cycle ({cycle})")
        visiting.append(name)
        for parent, values in (space[name].when or {}).items():
            _check_parent(space, name, parent, values)
            visit(parent)
        visiting.pop()
        order.append(name)

    for name in space:
        visit(name)
    return order


def _check_parent(
    space: Mapping[str, ParamSpec], name: str, parent: str, values: list[Scalar]
) -> None:
    field = f"search.space.{name}.when.{parent}"
    if parent not in space:
        raise SpaceError(f"{field}: the space has no parameter {parent!r}")
    spec = space[parent]
    if isinstance(spec, (Options, Constant)):
        possible = spec.grid_values(None)
        missing = [v for v in values if v not in possible]
        if missing:
            raise SpaceError(f"{field}: {parent} never takes {missing} (its values: {possible})")
