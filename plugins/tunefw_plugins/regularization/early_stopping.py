"""``early_stopping``: end a torch trial whose validation metric stalls, separately from ASHA.

ASHA compares trials with each other; this watches one trial: after ``patience`` epochs
without an improvement of more than ``min_delta``, the trial stops and its last result says
why (``metric.stopped_reason``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from tunefw.plugin_api.torch_target import EarlyStopping as Rule
from tunefw.recipe.numbers import FiniteFloat, Int
from tunefw.recipe.space import Constant, ParamSpec
from tunefw_plugins.regularization._torch_only import torch_target

T = TypeVar("T")
WHY = "it watches the epochs of a torch trainable (ASHA stops other trials)"


class EarlyStopping:
    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")

        patience: Int = Field(3, ge=1, description="Epochs without improvement before stopping.")
        min_delta: FiniteFloat = Field(0.0, ge=0, description="The smallest change that counts.")

    def __init__(self, params: Params) -> None:
        self.params = params

    def hyperparameters(self) -> dict[str, ParamSpec]:
        """The patience, as a constant: stored with each trial's config."""
        return {"early_stopping_patience": Constant(value=self.params.patience)}

    def check(self, target: object) -> None:
        torch_target(target, "early_stopping", WHY)

    def apply(self, target: T, config: Mapping[str, Any]) -> T:
        torch = torch_target(target, "early_stopping", WHY)
        patience = int(config.get("early_stopping_patience", self.params.patience))
        torch.early_stopping = Rule(patience=patience, min_delta=self.params.min_delta)
        return target
