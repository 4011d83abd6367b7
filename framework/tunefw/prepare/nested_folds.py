"""Nested CV's folds, made with the data before anything runs: each outer split, and the inner
splits of its training rows. A split that cannot be made (more outer folds than rows) is one
line naming its field, instead of a traceback after the first folds were tuned."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from tunefw.errors import RecipeError
from tunefw.plugin_api.capabilities import NestedValidation
from tunefw.plugin_api.protocols import Dataset, Split


@dataclass(frozen=True)
class OuterFold:
    """One outer split, and the inner strategy's splits of its training rows (indices into
    ``subset(data, split.train)``)."""

    split: Split
    inner: tuple[Split, ...]


def is_nested_validation(validation: object) -> bool:
    """Whether the validation strategy is an outer CV around the tuning (``nested``)."""
    return isinstance(validation, NestedValidation)


def subset(data: Dataset, rows: np.ndarray) -> Dataset:
    """The rows ``rows`` of ``data``, features, targets and groups alike."""

    def take(a: Any) -> Any:
        return None if a is None else (a.iloc[rows] if hasattr(a, "iloc") else a[rows])

    return Dataset(X=take(data.X), y=take(data.y), groups=take(data.groups))


def outer_folds(validation: Any, data: Dataset) -> tuple[OuterFold, ...]:
    """Every outer fold with its inner splits; a refusal names ``validation.outer_folds`` or
    ``validation.inner``."""
    try:
        splits = validation.outer_splits(data)
    except ValueError as exc:
        raise RecipeError(f"validation.outer_folds: {exc}") from None
    folds = []
    for k, split in enumerate(splits):
        try:
            inner = tuple(validation.inner.splits(subset(data, split.train)))
        except ValueError as exc:
            raise RecipeError(
                f"validation.inner: outer fold {k} trains on {len(split.train)} rows: {exc}"
            ) from None
        folds.append(OuterFold(split, inner))
    return tuple(folds)
