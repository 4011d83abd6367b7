"""Load the recipe's dataset on the driver, and split it, before any trial starts.

The data and its splits travel to the trials through Ray's object store (``SharedData``), so
each node holds one copy and no trial reads the source again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tunefw.errors import RecipeError
from tunefw.imports import import_object
from tunefw.protocols import Dataset, Split, ValidationStrategy
from tunefw.recipe import DataSection


def load_data(section: DataSection) -> Dataset:
    """Call the loader and normalise what it returns to a ``Dataset``.

    Accepted: a ``Dataset``, ``(X, y)``, ``(X, y, groups)``, or a scikit-learn ``Bunch``.
    """
    loader = section.loader
    fn = import_object(loader, "data.loader")
    try:
        out: Any = fn(**section.params)
    except RecipeError:
        raise
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise RecipeError(f"data: {loader} failed: {type(exc).__name__}: {exc}") from None
    if isinstance(out, Dataset):
        return out
    if hasattr(out, "data") and hasattr(out, "target"):
        return Dataset(X=out.data, y=out.target)
    if isinstance(out, tuple) and len(out) in (2, 3):
        return Dataset(*out)
    raise RecipeError(
        f"data.loader: {loader!r} returned {type(out).__name__}; "
        "expected (X, y), (X, y, groups) or a Bunch with .data and .target"
    )


@dataclass(frozen=True)
class SharedData:
    """What every trial reads: the dataset and the validation strategy's splits."""

    data: Dataset
    splits: tuple[Split, ...]


def share_data(section: DataSection | None, validation: ValidationStrategy) -> SharedData | None:
    """Load and split the data; a splitter's refusal (more folds than rows...) names the field."""
    if section is None:
        return None
    data = load_data(section)
    try:
        splits = tuple(validation.splits(data))
    except ValueError as exc:
        raise RecipeError(f"validation: {exc}") from None
    return SharedData(data, splits)
