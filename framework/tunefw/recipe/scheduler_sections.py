"""The recipe's ``scheduler`` section: one model per scheduler type, chosen by ``type``.

Each type accepts only its own fields, so a field meant for another scheduler is an error.
Each builds its Ray Tune scheduler (``build``) and says whether it pauses trials, so a new
type is one class here; Ray is imported only when one is built (trial workers parse recipes).
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

from tunefw.recipe.numbers import Count, FiniteFloat
from tunefw.recipe.union_tags import tags

if TYPE_CHECKING:
    from ray.tune.schedulers import TrialScheduler

    from tunefw.recipe.objective import Objective
    from tunefw.recipe.space import ParamSpec


class _Scheduler(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    pauses: ClassVar[bool] = False
    """Whether it pauses trials and resumes them later from their checkpoints (so only a
    ``Resumable`` trainable runs under it)."""

    @abstractmethod
    def build(
        self, stopped_early: set[str], space: Mapping[str, ParamSpec], objective: Objective
    ) -> TrialScheduler:
        """The scheduler; ids of trials it stops early are added to ``stopped_early``."""


class _Halving(_Scheduler):
    """Successive halving over ``training_iteration`` (one report = one iteration)."""

    max_t: Count = Field(100, description="Iterations a trial may run at most.")
    reduction_factor: FiniteFloat = Field(
        3.0, gt=1, description="Keep 1/reduction_factor per rung."
    )


class Asha(_Halving):
    """Asynchronous successive halving: stops a trial below the top 1/rf at its rung."""

    type: Literal["asha"] = "asha"
    grace_period: Count = Field(1, description="Iterations before any stop.")

    @model_validator(mode="after")
    def _grace_within_max_t(self) -> Asha:
        if self.grace_period > self.max_t:
            raise ValueError(f"grace_period ({self.grace_period}) must be <= max_t ({self.max_t})")
        return self

    def build(
        self, stopped_early: set[str], space: Mapping[str, ParamSpec], objective: Objective
    ) -> TrialScheduler:
        """ASHA; with several objectives, MO-ASHA ranking by all of them."""
        from tunefw.prepare.schedulers import asha

        return asha(self, stopped_early, objective)


class HyperBand(_Halving):
    """Synchronous HyperBand: brackets of trials paused at each rung, then halved."""

    type: Literal["hyperband"] = "hyperband"
    pauses: ClassVar[bool] = True

    def build(
        self, stopped_early: set[str], space: Mapping[str, ParamSpec], objective: Objective
    ) -> TrialScheduler:
        from tunefw.prepare.schedulers import hyperband

        return hyperband(self, stopped_early, bohb=False)


class Bohb(_Halving):
    """HyperBand whose brackets are filled by a model-based searcher (BOHB-style)."""

    type: Literal["bohb"] = "bohb"
    pauses: ClassVar[bool] = True

    def build(
        self, stopped_early: set[str], space: Mapping[str, ParamSpec], objective: Objective
    ) -> TrialScheduler:
        from tunefw.prepare.schedulers import hyperband

        return hyperband(self, stopped_early, bohb=True)


class Median(_Scheduler):
    """Stops a trial whose best result is below the median of the others' at the same point."""

    type: Literal["median"] = "median"
    grace_period: Count = Field(1, description="Iterations before any stop.")
    min_samples_required: Count = Field(3, description="Trials needed for a median.")

    def build(
        self, stopped_early: set[str], space: Mapping[str, ParamSpec], objective: Objective
    ) -> TrialScheduler:
        from tunefw.prepare.schedulers import median

        return median(self, stopped_early)


class Pbt(_Scheduler):
    """Population-based training: every ``perturbation_interval`` iterations, the bottom
    quantile copies a top trial's checkpoint and explores from its hyperparameters."""

    type: Literal["pbt"] = "pbt"
    pauses: ClassVar[bool] = True
    perturbation_interval: Count = 2
    quantile_fraction: FiniteFloat = Field(0.25, gt=0, le=0.5)
    resample_probability: FiniteFloat = Field(0.25, ge=0, le=1)

    def build(
        self, stopped_early: set[str], space: Mapping[str, ParamSpec], objective: Objective
    ) -> TrialScheduler:
        """PBT mutating every sampled parameter of ``space`` within its range."""
        from tunefw.prepare.schedulers import pbt

        return pbt(self, space)


class NoScheduler(_Scheduler):
    """Every trial runs to its end."""

    type: Literal["none"] = "none"

    def build(
        self, stopped_early: set[str], space: Mapping[str, ParamSpec], objective: Objective
    ) -> TrialScheduler:
        from tunefw.prepare.schedulers import Fifo

        return Fifo()  # type: ignore[no-untyped-call]


def _type_of(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("type", "asha"))
    return str(getattr(value, "type", "asha"))


_Sections = (
    Annotated[Asha, Tag("asha")]
    | Annotated[HyperBand, Tag("hyperband")]
    | Annotated[Bohb, Tag("bohb")]
    | Annotated[Median, Tag("median")]
    | Annotated[Pbt, Tag("pbt")]
    | Annotated[NoScheduler, Tag("none")]
)
SCHEDULER_TYPES = tags(_Sections)

SchedulerSection = Annotated[
    _Sections,
    Discriminator(
        _type_of,
        custom_error_type="scheduler_type",
        custom_error_message=f"type must be one of {', '.join(SCHEDULER_TYPES)}",
    ),
]
"""The ``scheduler`` section, ASHA when ``type`` is left out."""
