"""The recipe schema: pydantic models with unknown fields forbidden.

Plugin sections (``trainable``, ``validation``, each ``regularization`` entry) carry their
plugin's params inline, next to the key that names the plugin; those params are checked
against the plugin's own ``Params`` model once the plugin is resolved (see ``plugins.py``).
``search`` keeps its strategy's params under ``search.params`` because it also holds the
framework-level budget fields.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ByteSize,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from tunefw.recipe.logger_sections import LoggerSection
from tunefw.recipe.names import EXPERIMENT_NAME
from tunefw.recipe.numbers import Count, FiniteFloat, Int, Seed, refuse_bool
from tunefw.recipe.objective import Objective
from tunefw.recipe.scheduler_sections import Asha, Pbt, SchedulerSection
from tunefw.recipe.space import SearchSpace, sampling_order
from tunefw.recipe.stop_sections import StopSection

if TYPE_CHECKING:
    from ray.tune import PlacementGroupFactory

_PARAM_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _name_text(value: Any) -> Any:
    """``name: 123`` names "123"; a YAML float or boolean (``1.0``, ``yes``) must be quoted,
    since its text is gone."""
    if isinstance(value, bool | float):
        kind = "boolean" if isinstance(value, bool) else "number"
        raise ValueError(f"YAML reads this name as a {kind} ({value!r}); quote it")
    return str(value) if isinstance(value, int) else value


Name = Annotated[str, BeforeValidator(_name_text)]
"""An experiment or stage name, where a bare integer is taken as its text."""


DEFAULT_STORAGE = "./tunefw-results"
"""Where experiments are stored when neither the recipe nor a flag says."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _PluginSection(BaseModel):
    """A section whose extra keys are the named plugin's params."""

    model_config = ConfigDict(extra="allow", frozen=True)

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class TrainableSection(_PluginSection):
    kind: str = Field(description="Trainable adapter, an entry point in tunefw.trainable.")


class ValidationSection(_PluginSection):
    strategy: str = Field("holdout", description="An entry point in tunefw.validation.")


class RegularizerSection(_PluginSection):
    name: str = Field(description="An entry point in tunefw.regularization.")


class DataSection(_Section):
    loader: str = Field(description="'module:function' returning (X, y) or a sklearn Bunch.")
    params: dict[str, Any] = Field(default_factory=dict)


class WarmStart(_Section):
    """Seed the search with the best configs of an earlier experiment."""

    experiment: Name = Field(pattern=EXPERIMENT_NAME.pattern)
    top_k: Count = 5
    storage: str | None = Field(None, description="Where it is stored; the recipe's by default.")


class SearchSection(_Section):
    strategy: str = Field(
        "auto", description="An entry point in tunefw.search; auto picks the method itself."
    )
    params: dict[str, Any] = Field(default_factory=dict)
    space: SearchSpace
    num_samples: Count | None = Field(
        None, description="Trials to sample; for grid, how often the grid is repeated."
    )
    max_concurrent: Count | None = Field(None, description="Trials running at once, at most.")
    seed: Seed | None = Field(None, description="Seeds the sampler and the trials: runs replay.")
    warm_start: WarmStart | None = None

    @field_validator("space")
    @classmethod
    def _names_are_identifiers(cls, space: dict[str, Any]) -> dict[str, Any]:
        for name in space:
            if not _PARAM_NAME.match(name):
                raise ValueError(f"parameter name {name!r} must be a Python identifier")
        sampling_order(space)  # raises SpaceError, which pydantic passes through as is
        return space


class FailureSection(_Section):
    max_retries: Int = Field(
        0, ge=0, description="Retries of a failed trial, from its last checkpoint if it has one."
    )


class Budget(_Section):
    """Once one limit is reached, no new trial starts; running trials finish (under ASHA, at
    their next rung)."""

    wall_time_s: FiniteFloat | None = Field(
        None, gt=0, description="Seconds since the run started."
    )
    cpu_hours: FiniteFloat | None = Field(None, gt=0, description="CPUs held times running time.")
    gpu_hours: FiniteFloat | None = Field(None, gt=0, description="GPUs held times running time.")


class Bundle(_Section):
    """Resources for one worker a trial starts itself."""

    cpu: FiniteFloat = Field(1.0, ge=0)
    gpu: FiniteFloat = Field(0.0, ge=0)
    custom: dict[str, FiniteFloat] = Field(default_factory=dict)

    def for_ray(self) -> dict[str, float]:
        bundle = {"CPU": self.cpu, "GPU": self.gpu, **self.custom}
        return {name: amount for name, amount in bundle.items() if amount > 0}


class Resources(_Section):
    """What each trial holds; fractions pack several trials on one CPU or GPU."""

    cpu: FiniteFloat = Field(1.0, gt=0)
    gpu: FiniteFloat = Field(0.0, ge=0)
    memory: Annotated[ByteSize, BeforeValidator(refuse_bool)] | None = Field(
        None, description="Bytes, or a size such as '2GiB'."
    )
    accelerator_type: str | None = Field(None, description="A GPU model, e.g. 'A100'.")
    custom: dict[str, FiniteFloat] = Field(
        default_factory=dict, description="Resources the cluster's nodes declare, by name."
    )
    workers: list[Bundle] = Field(
        default_factory=list,
        description="Bundles for workers the trial starts itself (Ray tasks or actors), "
        "reserved together with the trial in one placement group.",
    )
    placement: Literal["PACK", "SPREAD", "STRICT_PACK", "STRICT_SPREAD"] = Field(
        "PACK", description="How the placement group's bundles spread over nodes."
    )

    def trial_bundle(self) -> dict[str, float]:
        """What the trial's own process holds, in Ray's resource names."""
        bundle = Bundle(cpu=self.cpu, gpu=self.gpu, custom=self.custom).for_ray()
        if self.memory is not None:
            bundle["memory"] = float(self.memory)
        if self.accelerator_type:
            bundle[f"accelerator_type:{self.accelerator_type}"] = 0.001
        return bundle

    def for_ray(self) -> PlacementGroupFactory:
        """The request Ray Tune takes (``tune.with_resources``): the trial's bundle first,
        then its workers'."""
        from ray.tune import PlacementGroupFactory

        bundles = [self.trial_bundle(), *(worker.for_ray() for worker in self.workers)]
        return PlacementGroupFactory(bundles, strategy=self.placement)

    def totals(self) -> dict[str, float]:
        """CPUs and GPUs a running trial holds in all: what its cost is counted in."""
        return {
            "cpu": self.cpu + sum(worker.cpu for worker in self.workers),
            "gpu": self.gpu + sum(worker.gpu for worker in self.workers),
        }

    def cluster_only(self) -> list[str]:
        """The fields only a cluster that declares them can satisfy."""
        fields = [f"resources.custom.{name}" for name in self.custom]
        fields += [
            f"resources.workers.{i}.custom.{name}"
            for i, worker in enumerate(self.workers)
            for name in worker.custom
        ]
        return fields + (["resources.accelerator_type"] if self.accelerator_type else [])


class Lean(_Section):
    """Evaluate several cheap configs one after another inside each Ray Tune trial.

    For trials of milliseconds, where Ray Tune's per-trial cost dominates. ASHA still stops
    each config on its own and every config is stored as a trial; a model-based search
    suggests a pack's configs together, so it adapts once per pack instead of once per config.
    """

    configs_per_trial: Int = Field(ge=2, description="Configs in each Ray Tune trial.")


class Stage(_Section):
    """One stage of a coarse-to-fine search: sections that replace the recipe's own.

    ``search`` is merged field by field (a stage may change only ``num_samples``; a new
    ``strategy`` drops the old ``params``, a new ``space`` replaces the old one); any other
    section given replaces the recipe's. Every stage after the first is warm-started from
    the previous stage's ``top_k`` configs, where its strategy takes warm-start points and
    the two spaces share a parameter.
    """

    name: Name = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$",
        description="Its experiment is NAME.STAGE (the last's: NAME)",
    )
    top_k: Count = Field(5, description="Configs of the previous stage to start from.")
    trainable: dict[str, Any] | None = None
    data: dict[str, Any] | None = None
    search: dict[str, Any] | None = None
    validation: dict[str, Any] | None = None
    regularization: list[dict[str, Any]] | None = None
    scheduler: dict[str, Any] | None = None
    resources: dict[str, Any] | None = None


class Recipe(_Section):
    """A whole tuning experiment, as written in a recipe file."""

    name: Name = Field(
        pattern=EXPERIMENT_NAME.pattern, description="The experiment's name, once per storage."
    )
    description: str | None = Field(None, description="Free text, kept in the manifest.")
    trainable: TrainableSection
    data: DataSection | None = None
    objective: Objective
    search: SearchSection
    validation: ValidationSection = ValidationSection()
    regularization: list[RegularizerSection] = Field(default_factory=list)
    scheduler: SchedulerSection = Asha()
    resources: Resources = Resources()
    failure: FailureSection = FailureSection()
    budget: Budget | None = None
    stop: StopSection | None = Field(
        None, description="Rules that end the study once more trials stop paying."
    )
    lean: Lean | None = Field(None, description="Several cheap configs per Ray Tune trial.")
    loggers: list[LoggerSection] = Field(
        default_factory=list, description="TensorBoard, MLflow or W&B, beside the Parquet store."
    )
    storage: str = Field(
        DEFAULT_STORAGE, description="Storage root: a path or a URI such as s3://bucket/x."
    )
    stages: list[Stage] = Field(
        default_factory=list, description="Run one after another, each from the last's best."
    )

    @model_validator(mode="after")
    def _pbt_searches_at_random(self) -> Recipe:
        """PBT mutates running trials itself: with no strategy named, its trials start from
        random samples, as in Ray Tune."""
        if isinstance(self.scheduler, Pbt) and "strategy" not in self.search.model_fields_set:
            search = self.search.model_copy(update={"strategy": "random"})
            object.__setattr__(self, "search", search)
        return self

    @model_validator(mode="after")
    def _stop_rules_fit_the_objective(self) -> Recipe:
        if self.stop is None:
            return self
        targets = self.objective.targets
        target = self.stop.target
        if target is not None and target.metric is not None and target.metric not in targets:
            raise ValueError(
                f"stop.target.metric: {target.metric!r} is not an objective metric "
                f"({', '.join(targets)})"
            )
        if self.stop.converged is not None and self.objective.multi:
            raise ValueError(
                "stop.converged: bounds the regret of one objective; with several, use "
                "stop.plateau (no trial joins the Pareto front) or stop.target"
            )
        plateau = self.stop.plateau
        if plateau is not None and plateau.min_delta and self.objective.multi:
            raise ValueError(
                "stop.plateau.min_delta: with several objectives a plateau is a Pareto front "
                "no trial joins; leave min_delta out"
            )
        return self

    @field_validator("stages")
    @classmethod
    def _distinct_stage_names(cls, stages: list[Stage]) -> list[Stage]:
        names = [s.name for s in stages]
        if len(set(names)) != len(names):
            raise ValueError(f"stage names must differ, got {names}")
        return stages
