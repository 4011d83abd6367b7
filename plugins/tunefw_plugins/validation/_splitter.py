"""Shared plumbing: a validation strategy is a scikit-learn splitter plus its params."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

from tunefw.plugin_api.protocols import Dataset, Split


class SplitterStrategy(ABC):
    """Base for strategies backed by a scikit-learn cross-validator."""

    uses_groups = False

    def __init__(self, params: Any) -> None:
        self.params = params

    @abstractmethod
    def splitter(self) -> Any:
        """The scikit-learn cross-validator for these params."""

    def n_splits(self, data: Dataset) -> int:
        return int(self.splitter().get_n_splits(data.X, data.y, self._groups(data)))

    def splits(self, data: Dataset) -> Sequence[Split]:
        return [
            Split(train=train, valid=valid)
            for train, valid in self.splitter().split(data.X, data.y, self._groups(data))
        ]

    def _groups(self, data: Dataset) -> Any:
        return data.groups if self.uses_groups else None
