"""Load the recipe's dataset from its loader, once per worker process."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from tunefw.errors import RecipeError
from tunefw.imports import import_object
from tunefw.protocols import Dataset
from tunefw.recipe import DataSection


def load_data(section: DataSection) -> Dataset:
    """Call the loader and normalise what it returns to a ``Dataset``.

    Accepted: a ``Dataset``, ``(X, y)``, ``(X, y, groups)``, or a scikit-learn ``Bunch``.
    Results are cached per process, so trials reusing an actor load the data once.
    """
    return _load_cached(section.loader, json.dumps(section.params, sort_keys=True))


@lru_cache(maxsize=4)
def _load_cached(loader: str, params_json: str) -> Dataset:
    fn = import_object(loader, "data.loader")
    out: Any = fn(**json.loads(params_json))
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
