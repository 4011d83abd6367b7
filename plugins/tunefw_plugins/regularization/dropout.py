"""``dropout``: the rate of every dropout layer of a torch model, searched.

The built-in torch models have dropout layers; a model of your own needs ``nn.Dropout`` layers
for this to act on. scikit-learn estimators have no dropout and are refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tunefw.errors import PluginError
from tunefw.recipe.numbers import FiniteFloat
from tunefw.recipe.space import ParamSpec, Uniform
from tunefw_plugins.regularization._torch_only import torch_target

T = TypeVar("T")
WHY = "only torch models have dropout layers"


class Dropout:
    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")

        range: tuple[FiniteFloat, FiniteFloat] = Field(
            (0.0, 0.5), description="[low, high] of the rate."
        )
        key: str = "dropout"

        @model_validator(mode="after")
        def _rate(self) -> Dropout.Params:
            low, high = self.range
            if not 0 <= low < high < 1:
                raise ValueError(f"range must satisfy 0 <= low < high < 1, got [{low}, {high}]")
            return self

    def __init__(self, params: Params) -> None:
        self.params = params

    def hyperparameters(self) -> dict[str, ParamSpec]:
        return {self.params.key: Uniform.model_validate({"uniform": self.params.range})}

    def check(self, target: object) -> None:
        torch_target(target, "dropout", WHY)

    def apply(self, target: T, config: Mapping[str, Any]) -> T:
        torch = torch_target(target, "dropout", WHY)
        rate = float(config[self.params.key])
        layers = [m for m in torch.model.modules() if type(m).__name__.startswith("Dropout")]
        if not layers:
            raise PluginError(
                f"regularization: dropout found no dropout layer in {type(torch.model).__name__}"
            )
        for layer in layers:
            layer.p = rate
        torch.dropout = rate
        return target
