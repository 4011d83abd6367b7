"""``elastic_net``: a penalty's strength and its L1 share, both searched."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field, model_validator

from tunefw.recipe.numbers import FiniteFloat
from tunefw.recipe.space import ParamSpec, Uniform
from tunefw_plugins.regularization._penalty import Penalty, PenaltyParams


class ElasticNetParams(PenaltyParams):
    l1_ratio: tuple[FiniteFloat, FiniteFloat] = Field(
        (0.05, 0.95), description="[low, high] of the L1 share."
    )

    @model_validator(mode="after")
    def _ratio_in_unit_interval(self) -> ElasticNetParams:
        low, high = self.l1_ratio
        if not 0 <= low < high <= 1:
            raise ValueError(f"l1_ratio must satisfy 0 <= low < high <= 1, got [{low}, {high}]")
        return self


class ElasticNet(Penalty):
    Params = ElasticNetParams
    name = "elastic_net"

    @property
    def ratio_key(self) -> str:
        return f"{self.key}_l1_ratio"

    def hyperparameters(self) -> dict[str, ParamSpec]:
        ratio = Uniform.model_validate({"uniform": self.params.l1_ratio})
        return {**super().hyperparameters(), self.ratio_key: ratio}

    def l1_ratio(self, config: Mapping[str, Any]) -> float:
        return float(config[self.ratio_key])
