"""Number types for recipe and plugin fields: no booleans, finite floats, ints within int64.

YAML reads ``yes``, ``no``, ``on`` and ``off`` as booleans, which pydantic would take as 1 and
0; ``.inf`` and ``.nan`` are floats no bound, resource or budget can use; an int beyond int64
fits neither numpy nor an Arrow column, and a seed must fit the samplers' 32 bits. A field
typed with these refuses each where it is parsed, so the error names the field.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import AfterValidator, AllowInfNan, BeforeValidator, Field

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
SEED_MAX = 2**32 - 1


def refuse_bool(value: Any) -> Any:
    """``value``, unless it is a boolean where a number goes."""
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got the boolean {str(value).lower()}")
    return value


def check_int64(value: int) -> int:
    """``value``, if it fits in a signed 64-bit integer."""
    if not INT64_MIN <= value <= INT64_MAX:
        raise ValueError(f"{value} does not fit in 64 bits (at most {INT64_MAX})")
    return value


def check_finite(value: float) -> float:
    """``value``, unless it is infinite or NaN."""
    if not math.isfinite(value):
        raise ValueError(f"must be a finite number, got {value}")
    return value


def finite_or_none(value: Any) -> float | None:
    """A reported ``value`` as a finite float; None if missing, NaN, infinite, a boolean or
    not a number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _finite_number(value: Any) -> Any:
    """Before the bounds are compared: NaN fails ``gt=0`` with a misleading message."""
    refuse_bool(value)
    return check_finite(value) if isinstance(value, float) else value


def _check_seed(value: int) -> int:
    if not 0 <= value <= SEED_MAX:
        raise ValueError(f"must be between 0 and {SEED_MAX}")
    return value


Int = Annotated[int, BeforeValidator(refuse_bool), AfterValidator(check_int64)]
"""An integer within int64; a boolean is refused."""

Count = Annotated[int, Field(gt=0), BeforeValidator(refuse_bool), AfterValidator(check_int64)]
"""A positive ``Int``: trials, folds, iterations."""

FiniteFloat = Annotated[float, BeforeValidator(_finite_number), AllowInfNan(False)]
"""A float that is neither infinite nor NaN; a boolean is refused."""

Seed = Annotated[int, BeforeValidator(refuse_bool), AfterValidator(_check_seed)]
"""A random seed: 0 to 2**32 - 1, what numpy, scikit-learn and Optuna accept."""
