"""The recipe's ``stop`` section: rules that end a study once more trials stop paying.

``plateau`` fires once the best value has moved by less than ``min_delta`` over the last
``patience`` finished trials; ``target`` once a completed, feasible trial reaches a value;
``converged`` once the room for improvement a surrogate model still sees (a regret bound)
falls below the noise of the objective itself: the spread of the best trial's fold scores,
or a floor the recipe gives.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tunefw.recipe.numbers import Count, FiniteFloat

RULES = ("converged", "plateau", "target")


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Plateau(_Rule):
    """Stop when the best value has improved by less than ``min_delta`` over the last
    ``patience`` finished trials (with several objectives: no trial joined the Pareto front)."""

    patience: Count = Field(description="Finished trials without improvement before stopping.")
    min_delta: FiniteFloat = Field(0.0, ge=0, description="The least change that counts.")


class Target(_Rule):
    """Stop once a completed, feasible trial reaches ``value`` on ``metric``."""

    value: FiniteFloat = Field(
        description="The value to reach (at least for max, at most for min)."
    )
    metric: str | None = Field(None, description="An objective metric; the primary by default.")


class Converged(_Rule):
    """Stop once the regret bound of a Gaussian-process surrogate over the finished trials
    falls below the objective's noise (Makarova et al. 2022, as Optuna's Terminator did)."""

    noise: FiniteFloat | Literal["folds", "repeats"] = Field(
        "folds",
        description="The noise floor: `folds` (the spread of the best trial's fold scores), "
        "`repeats` (the spread of configs run more than once), or a value.",
    )
    min_trials: Count = Field(20, description="Completed trials before the bound is trusted.")

    @model_validator(mode="after")
    def _positive_floor(self) -> Converged:
        if isinstance(self.noise, float) and self.noise <= 0:
            raise ValueError(f"noise must be > 0, got {self.noise}")
        return self


class StopSection(_Rule):
    """One or more rules; the first to fire ends the study."""

    converged: Converged | None = None
    plateau: Plateau | None = None
    target: Target | None = None

    @model_validator(mode="after")
    def _some_rule(self) -> StopSection:
        if not self.model_fields_set:
            raise ValueError(f"name at least one rule: {', '.join(RULES)}")
        return self
