"""``timeseries`` (forward-chaining splits) and ``leave_one_out``."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sklearn.model_selection import LeaveOneOut, TimeSeriesSplit

from tunefw.recipe.numbers import Int
from tunefw_plugins.validation._splitter import SplitterStrategy


class TimeSeriesCV(SplitterStrategy):
    """Train on the past, validate on what follows; rows must be in time order."""

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")

        folds: Int = Field(5, ge=2)
        gap: Int = Field(0, ge=0, description="Rows left out between train and validation.")
        max_train_size: Int | None = Field(None, ge=1)
        test_size: Int | None = Field(None, ge=1)

    def splitter(self) -> Any:
        p = self.params
        return TimeSeriesSplit(
            n_splits=p.folds, gap=p.gap, max_train_size=p.max_train_size, test_size=p.test_size
        )


class LeaveOneOutCV(SplitterStrategy):
    """Every row is the validation set once: one report per row, for small datasets."""

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")

    def splitter(self) -> Any:
        return LeaveOneOut()
