"""``l2``: an L2 penalty coefficient searched on a log scale.

scikit-learn estimators take it as ``alpha`` (Ridge, SGD*, MLP*) or as its inverse ``C``
(LogisticRegression, SVC, LinearSVC...).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tunefw.errors import PluginError
from tunefw.space import LogUniform, ParamSpec

T = TypeVar("T")


class L2:
    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")

        range: tuple[float, float] = Field(
            (1e-6, 1e-1), description="[low, high] of the coefficient."
        )
        key: str = Field("l2", description="The config key the coefficient is stored under.")

        @model_validator(mode="after")
        def _positive_range(self) -> L2.Params:
            low, high = self.range
            if not 0 < low < high:
                raise ValueError(f"range must satisfy 0 < low < high, got [{low}, {high}]")
            return self

    def __init__(self, params: Params) -> None:
        self.params = params

    def hyperparameters(self) -> dict[str, ParamSpec]:
        return {self.params.key: LogUniform.model_validate({"loguniform": self.params.range})}

    @staticmethod
    def _target_param(target: object) -> str:
        get_params = getattr(target, "get_params", None)
        names = get_params(deep=False) if callable(get_params) else {}
        for name in ("alpha", "C"):
            if name in names:
                return name
        raise PluginError(
            f"regularization: l2 cannot be applied to {type(target).__name__}: "
            "it has neither an 'alpha' nor a 'C' parameter"
        )

    def check(self, target: object) -> None:
        self._target_param(target)

    def apply(self, target: T, config: Mapping[str, Any]) -> T:
        coef = float(config[self.params.key])
        name = self._target_param(target)
        target.set_params(**{name: coef if name == "alpha" else 1.0 / coef})  # type: ignore[attr-defined]
        return target
