"""``kfold`` and ``stratified_kfold``: k train/validation splits, one report per fold.

A CV trainable reports the running mean after each fold, so ASHA can stop a weak
configuration after its first folds.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sklearn.model_selection import KFold, StratifiedKFold

from tunefw_plugins.validation._splitter import SplitterStrategy


class KFoldParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    folds: int = Field(5, ge=2)
    shuffle: bool = True
    seed: int = 0


class KFoldCV(SplitterStrategy):
    Params = KFoldParams
    splitter_class: Any = KFold

    def splitter(self) -> Any:
        p = self.params
        return self.splitter_class(
            n_splits=p.folds, shuffle=p.shuffle, random_state=p.seed if p.shuffle else None
        )


class StratifiedKFoldCV(KFoldCV):
    splitter_class = StratifiedKFold
