"""``holdout``: one train/validation split, optionally stratified by the target."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from tunefw.recipe.numbers import FiniteFloat, Seed
from tunefw_plugins.validation._splitter import SplitterStrategy


class Holdout(SplitterStrategy):
    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")

        fraction: FiniteFloat = Field(0.2, gt=0, lt=1, description="Share of rows held out.")
        stratify: bool = False
        seed: Seed = 0

    def splitter(self) -> Any:
        # Imported here: holdout is the default strategy, and a recipe without data (a
        # function trainable) never splits, so it need not pay scikit-learn's import (~0.8 s).
        from sklearn.model_selection import ShuffleSplit, StratifiedShuffleSplit

        cls = StratifiedShuffleSplit if self.params.stratify else ShuffleSplit
        return cls(n_splits=1, test_size=self.params.fraction, random_state=self.params.seed)
