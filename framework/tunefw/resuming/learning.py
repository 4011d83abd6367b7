"""The capability a searcher declares when it can be told of trials it did not suggest.

A resumed run rebuilds its searcher from the recipe and tells it every stored trial, as
Optuna rebuilds a study from its stored trials. A searcher without this capability goes on
from its seed without them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any


class LearnsFromTrials(ABC):
    """A Ray Tune ``Searcher`` that learns from trials evaluated elsewhere."""

    @abstractmethod
    def learn(self, config: Mapping[str, Any], result: Mapping[str, Any] | None) -> None:
        """``config`` was evaluated and ended with ``result`` (its last one; None: errored)."""

    def expect(self, config: Mapping[str, Any]) -> None:  # noqa: B027 (optional, no-op)
        """``config`` is being evaluated again (a rerun); ``learn`` gets its result.

        A searcher that models trials in flight holds it as running, in its stored place;
        by default nothing happens until ``learn``.
        """
