"""Load the recipe's dataset on the driver, and split it, before any trial starts.

The data and its splits travel to the trials through Ray's object store (``SharedData``), so
each node holds one copy and no trial reads the source again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tunefw.errors import RecipeError, describe, first_line
from tunefw.plugin_api.imports import import_callable
from tunefw.plugin_api.protocols import Dataset, Split, ValidationStrategy
from tunefw.plugin_api.user_code import call_user
from tunefw.recipe.schema import DataSection


def load_data(section: DataSection) -> Dataset:
    """Call the loader and normalise what it returns to a ``Dataset``.

    Accepted: a ``Dataset``, ``(X, y)``, ``(X, y, groups)``, or a scikit-learn ``Bunch``.
    Whatever the loader raises or exits with is one line naming it
    (``tunefw.plugin_api.user_code``).
    """
    loader = section.loader
    fn = import_callable(loader, "data.loader")
    out: Any = call_user("data.loader", loader, fn, **section.params)
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
    """Load and split the data; a splitter's refusal (more folds than rows, rows that are no
    array) names the field."""
    if section is None:
        return None
    data = load_data(section)
    try:
        splits = tuple(validation.splits(data))
    except (ValueError, TypeError) as exc:  # scikit-learn's TypeError: X or y is a scalar
        raise RecipeError(f"validation: {first_line(exc) or describe(exc)}") from None
    return SharedData(data, splits)
