"""k-fold families: ``kfold``, ``stratified_kfold``, ``group_kfold``, ``repeated_kfold``.

A CV trainable reports the running mean after each fold, so ASHA can stop a weak
configuration after its first folds.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sklearn.model_selection import (
    GroupKFold,
    KFold,
    RepeatedKFold,
    RepeatedStratifiedKFold,
    StratifiedKFold,
)

from tunefw.errors import PluginError
from tunefw.plugin_api.protocols import Dataset, Split
from tunefw.recipe.numbers import Int, Seed
from tunefw_plugins.validation._splitter import SplitterStrategy


class KFoldParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    folds: Int = Field(5, ge=2)
    shuffle: bool = True
    seed: Seed = 0


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


class GroupKFoldCV(SplitterStrategy):
    """Rows of one group (a patient, a speaker, a user) never sit on both sides of a split."""

    uses_groups = True

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")

        folds: Int = Field(5, ge=2)

    def splitter(self) -> Any:
        return GroupKFold(n_splits=self.params.folds)

    def splits(self, data: Dataset) -> list[Split]:
        if data.groups is None:
            raise PluginError(
                "validation: group_kfold needs groups: give the data loader a group column "
                "(e.g. data.params.groups for tunefw_plugins.data.table:load_table)"
            )
        return super().splits(data)


class RepeatedKFoldCV(SplitterStrategy):
    """k-fold repeated with different shuffles: steadier estimates, ``folds x repeats`` reports."""

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")

        folds: Int = Field(5, ge=2)
        repeats: Int = Field(2, ge=1)
        stratify: bool = False
        seed: Seed = 0

    def splitter(self) -> Any:
        p = self.params
        cls = RepeatedStratifiedKFold if p.stratify else RepeatedKFold
        return cls(n_splits=p.folds, n_repeats=p.repeats, random_state=p.seed)
