"""``l1``: an L1 (lasso) penalty searched on a log scale; sparse weights."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tunefw_plugins.regularization._penalty import Penalty


class L1(Penalty):
    name = "l1"

    def l1_ratio(self, config: Mapping[str, Any]) -> float:
        return 1.0
