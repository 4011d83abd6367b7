"""``nested``: an outer CV around the whole tuning procedure, scored separately.

    validation:
      strategy: nested
      outer_folds: 3
      inner: {strategy: stratified_kfold, folds: 3}

For each outer fold, tunefw tunes on the outer-training rows only (with the ``inner``
strategy), refits the best config on them and scores it on the held-out outer rows. The mean
of those outer scores estimates how well *tuning* generalises, without the optimism of
reporting the best inner score. The main experiment then tunes on all rows, as usual.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sklearn.model_selection import KFold, StratifiedKFold

from tunefw.plugin_api.capabilities import NestedValidation
from tunefw.plugin_api.protocols import Dataset, Split, ValidationStrategy
from tunefw.plugin_api.resolve import build
from tunefw.recipe.numbers import Int, Seed


class Nested(NestedValidation):
    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")

        outer_folds: Int = Field(3, ge=2)
        stratify: bool = True
        seed: Seed = 0
        inner: dict[str, Any] = Field(
            default_factory=lambda: {"strategy": "kfold", "folds": 3},
            description="The validation section used inside each outer fold.",
        )

    def __init__(self, params: Params) -> None:
        self.params = params
        inner = dict(params.inner)
        name = inner.pop("strategy", "kfold")
        self.inner: ValidationStrategy = build(
            "validation", name, inner, "validation.inner.strategy", "validation.inner"
        )

    def n_splits(self, data: Dataset) -> int:
        return self.inner.n_splits(data)

    def splits(self, data: Dataset) -> Sequence[Split]:
        """The inner strategy's splits: the main experiment tunes on all rows."""
        return self.inner.splits(data)

    def outer_splits(self, data: Dataset) -> list[Split]:
        p = self.params
        cls = StratifiedKFold if p.stratify else KFold
        outer = cls(n_splits=p.outer_folds, shuffle=True, random_state=p.seed)
        return [Split(train=a, valid=b) for a, b in outer.split(data.X, data.y)]
