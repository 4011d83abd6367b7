"""Shared by ``l1``, ``l2`` and ``elastic_net``: one penalty, strength and L1 share.

scikit-learn spells the penalty several ways; this maps one (strength, l1_ratio) onto an
estimator, or refuses it by name:

- ``l1_ratio`` estimators (LogisticRegression, SGD*, ElasticNet): ``alpha`` or ``C = 1/alpha``
  and ``l1_ratio``; a solver without L1 support becomes ``saga``;
- pure L1 (Lasso*): ``alpha``, for ``l1_ratio == 1``;
- pure L2 (Ridge*, SVC, MLP*, ...): ``alpha`` or ``C``, for ``l1_ratio == 0``.

torch models get ``weight_decay`` for the L2 share and an L1 term on the loss (``TorchTarget``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tunefw.errors import PluginError
from tunefw.plugin_api.torch_target import TorchTarget
from tunefw.recipe.numbers import FiniteFloat
from tunefw.recipe.space import LogUniform, ParamSpec

T = TypeVar("T")
_NO_L1_SOLVERS = {"lbfgs", "newton-cg", "newton-cholesky", "sag"}


class PenaltyParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    range: tuple[FiniteFloat, FiniteFloat] = Field(
        (1e-6, 1e-1), description="[low, high] of the penalty's strength, searched on a log scale."
    )
    key: str = Field("", description="The config key of the strength; the plugin's name if empty.")

    @model_validator(mode="after")
    def _positive_range(self) -> PenaltyParams:
        low, high = self.range
        if not 0 < low < high:
            raise ValueError(f"range must satisfy 0 < low < high, got [{low}, {high}]")
        return self


def _sklearn_updates(target: Any, strength: float, l1_ratio: float, name: str) -> dict[str, Any]:
    params = target.get_params(deep=False)
    kind = type(target).__name__
    scale = {"alpha": strength} if "alpha" in params else {"C": 1.0 / strength}
    if "alpha" not in params and "C" not in params:
        raise PluginError(f"regularization: {name} cannot be applied to {kind}: no alpha or C")
    if "l1_ratio" in params:
        updates = {**scale, "l1_ratio": l1_ratio}
        if params.get("penalty") not in (None, "deprecated"):
            updates["penalty"] = "elasticnet"
        if l1_ratio > 0 and params.get("solver") in _NO_L1_SOLVERS:
            updates["solver"] = "saga"
        return updates
    pure_l1 = "Lasso" in kind
    if (l1_ratio == 1 and pure_l1) or (l1_ratio == 0 and not pure_l1):
        return scale
    raise PluginError(f"regularization: {name} cannot be applied to {kind}")


class Penalty(ABC):
    """A penalty whose L1 share is fixed by the subclass, or searched (elastic net)."""

    Params: Any = PenaltyParams
    name = ""

    def __init__(self, params: Any) -> None:
        self.params = params
        self.key = params.key or self.name

    @abstractmethod
    def l1_ratio(self, config: Mapping[str, Any]) -> float:
        """The L1 share of the penalty for this trial's ``config``."""

    def hyperparameters(self) -> dict[str, ParamSpec]:
        return {self.key: LogUniform.model_validate({"loguniform": self.params.range})}

    def check(self, target: object) -> None:
        if isinstance(target, TorchTarget):
            return
        if not callable(getattr(target, "get_params", None)):
            raise PluginError(
                f"regularization: {self.name} cannot be applied to {type(target).__name__}"
            )
        sample = {k: s.grid_values(2)[0] for k, s in self.hyperparameters().items()}
        _sklearn_updates(target, sample[self.key], self.l1_ratio(sample), self.name)

    def apply(self, target: T, config: Mapping[str, Any]) -> T:
        strength, l1_ratio = float(config[self.key]), self.l1_ratio(config)
        if isinstance(target, TorchTarget):
            target.add_penalty(l1=strength * l1_ratio, l2=strength * (1 - l1_ratio))
            return target
        target.set_params(**_sklearn_updates(target, strength, l1_ratio, self.name))  # type: ignore[attr-defined]
        return target
