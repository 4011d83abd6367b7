"""``l2``: an L2 penalty searched on a log scale (``alpha``/``C`` in scikit-learn, weight decay
in torch)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tunefw_plugins.regularization._penalty import Penalty


class L2(Penalty):
    name = "l2"

    def l1_ratio(self, config: Mapping[str, Any]) -> float:
        return 0.0
