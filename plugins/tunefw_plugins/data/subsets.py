"""Load some classes of another loader's dataset, relabelled 0..k-1, optionally few per class.

    data:
      loader: tunefw_plugins.data.subsets:load_classes
      params: {loader: "sklearn.datasets:load_digits", classes: [5, 6, 7, 8, 9], per_class: 20}

Used for transfer learning: pretrain on some classes, fine-tune on others with little data.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tunefw.errors import RecipeError
from tunefw.plugin_api.protocols import Dataset
from tunefw.prepare.data import load_data
from tunefw.recipe.schema import DataSection


def load_classes(
    loader: str,
    classes: list[Any],
    per_class: int | None = None,
    seed: int = 0,
    params: dict[str, Any] | None = None,
) -> Dataset:
    data = load_data(DataSection(loader=loader, params=params or {}))
    y = np.asarray(data.y)
    rng = np.random.default_rng(seed)
    rows = []
    for label in classes:
        found = np.flatnonzero(y == label)
        if not found.size:
            raise RecipeError(f"data.params.classes: {loader} has no class {label!r}")
        if per_class is not None:
            found = np.sort(rng.choice(found, min(per_class, found.size), replace=False))
        rows.append(found)
    index = np.concatenate(rows)
    relabel = {label: i for i, label in enumerate(classes)}
    groups = None if data.groups is None else np.asarray(data.groups)[index]
    return Dataset(
        X=np.asarray(data.X)[index], y=np.array([relabel[v] for v in y[index]]), groups=groups
    )
