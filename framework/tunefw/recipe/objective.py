"""What a recipe optimises: one metric or several (each with its mode), and constraints.

``objective: {metric: accuracy, mode: max}`` is single-objective; ``objective: {metrics:
{accuracy: max, fit_seconds: min}}`` asks for the Pareto front. ``metric``/``mode`` always
name the first (primary) objective, which is what schedulers and progress lines follow.
Constraints (``"loss <= 0.4"``) mark a trial infeasible when its final value breaks them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tunefw.errors import RecipeError
from tunefw.recipe.numbers import FiniteFloat

Mode = Literal["min", "max"]

_CONSTRAINT = re.compile(r"^\s*([A-Za-z_][\w./-]*)\s*(<=|>=)\s*(\S+)\s*$")


def check_reported(
    metrics: Mapping[str, str], reported: Callable[[str], bool], who: str, reports: str
) -> None:
    """For trainables' ``check``: refuse, naming the recipe field, a metric ``who`` never
    reports (``metrics`` maps fields to metrics; ``reports`` says what it does report)."""
    for field, metric in metrics.items():
        if not reported(metric):
            raise RecipeError(f"{field}: {who} never reports {metric!r}; it reports {reports}")


class Constraint(BaseModel):
    """``metric <= bound`` or ``metric >= bound`` on a trial's final reported value."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    metric: str
    op: Literal["<=", ">="]
    bound: FiniteFloat

    @model_validator(mode="before")
    @classmethod
    def _parse(cls, data: Any) -> Any:
        if not isinstance(data, str):
            return data
        match = _CONSTRAINT.match(data)
        if match is None:
            raise ValueError(f"expected 'METRIC <= VALUE' or 'METRIC >= VALUE', got {data!r}")
        metric, op, bound = match.groups()
        try:
            value = float(bound)
        except ValueError:
            raise ValueError(f"{data!r}: the bound {bound!r} is not a number") from None
        if not math.isfinite(value):
            raise ValueError(f"{data!r}: the bound {bound!r} is not a finite number")
        return {"metric": metric, "op": op, "bound": value}

    def violation(self, value: float | None) -> float:
        """How far ``value`` breaks the constraint: <= 0 when it holds (Optuna's convention)."""
        if value is None or math.isnan(value):
            return math.inf
        return value - self.bound if self.op == "<=" else self.bound - value

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.bound:g}"


class Objective(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    metric: str = Field(description="The primary metric (the first of `metrics`).")
    mode: Mode = Field(description="max or min: which way the primary metric is better.")
    metrics: dict[str, Mode] | None = Field(
        None, description="Several objectives, each with its mode: a multi-objective search."
    )
    constraints: list[Constraint] = Field(
        default_factory=list, description='Conditions on final metrics, e.g. "fit_time <= 0.5".'
    )

    @model_validator(mode="before")
    @classmethod
    def _primary_from_metrics(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and data.get("metrics") and "metric" not in data:
            if "mode" in data:
                raise ValueError("give modes inside `metrics` ({metric: mode, ...}), not `mode`")
            metric, mode = next(iter(data["metrics"].items()))
            return {**data, "metric": metric, "mode": mode}
        return data

    @model_validator(mode="after")
    def _consistent(self) -> Objective:
        if self.metrics is not None:
            first = next(iter(self.metrics.items()), None)
            if first != (self.metric, self.mode):
                raise ValueError("`metric` and `mode` must be the first entry of `metrics`")
        return self

    @property
    def targets(self) -> dict[str, Mode]:
        """Every objective metric with its mode, the primary first."""
        return dict(self.metrics) if self.metrics else {self.metric: self.mode}

    @property
    def multi(self) -> bool:
        return len(self.targets) > 1

    def metric_fields(self) -> dict[str, str]:
        """Each recipe field that names a metric, with that metric: what trainables check."""
        if self.metrics:
            fields = {f"objective.metrics.{name}": name for name in self.metrics}
        else:
            fields = {"objective.metric": self.metric}
        for i, constraint in enumerate(self.constraints):
            fields[f"objective.constraints[{i}]"] = constraint.metric
        return fields

    def reported_metrics(self) -> tuple[str, ...]:
        """Every metric the trial must report: objectives, then constrained metrics."""
        return tuple(dict.fromkeys(self.metric_fields().values()))

    def feasible(self, row: Mapping[str, float | None]) -> bool:
        return all(c.violation(row.get(c.metric)) <= 0 for c in self.constraints)
