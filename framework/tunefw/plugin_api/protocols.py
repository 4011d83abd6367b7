"""The plugin contract: one Protocol per plugin kind, and the small value types they exchange.

A plugin is a class registered under an entry point. It declares ``Params``, a pydantic model
with ``extra="forbid"`` that validates its part of the recipe, and is built as ``cls(params)``.
Plugins never read global state: everything a trial needs reaches it through ``TrialContext``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar

import numpy as np
from pydantic import BaseModel

from tunefw.plugin_api.capabilities import NamesSuggestions, ReportsOncePerSplit
from tunefw.recipe.objective import Constraint, Mode
from tunefw.recipe.space import ParamSpec

if TYPE_CHECKING:
    from tunefw.plugin_api.context import TrialContext

# the capabilities are re-exported for plugins written before tunefw.plugin_api.capabilities
__all__ = [
    "Dataset",
    "NamesSuggestions",
    "Plugin",
    "Regularizer",
    "ReportsOncePerSplit",
    "SearchPlan",
    "SearchSettings",
    "SearchStrategy",
    "Split",
    "TrainableAdapter",
    "ValidationStrategy",
]

Target = TypeVar("Target")
DEFAULT_NUM_SAMPLES = 10


@dataclass(frozen=True)
class Dataset:
    """Features, targets and optional groups, as loaded from the recipe's ``data`` section."""

    X: Any
    y: Any
    groups: Any = None

    def __len__(self) -> int:
        return len(self.y)


@dataclass(frozen=True)
class Split:
    """One train/validation split, as row indices into a ``Dataset``."""

    train: np.ndarray
    valid: np.ndarray


@dataclass(frozen=True)
class SearchSettings:
    """The framework-level search settings every strategy honours."""

    num_samples: int | None
    max_concurrent: int | None
    seed: int | None
    metric: str
    mode: Mode
    initial_points: tuple[dict[str, Any], ...] = ()
    """Configs to evaluate first (warm start), possibly partial; the rest is sampled."""
    objectives: Mapping[str, Mode] | None = None
    """Every objective with its mode when there are several (``metric`` is the first)."""
    constraints: tuple[Constraint, ...] = ()
    """Constraints on final metrics; strategies that can, steer away from breaking them."""

    @property
    def targets(self) -> dict[str, Mode]:
        """Every objective with its mode, the primary first."""
        return dict(self.objectives) if self.objectives else {self.metric: self.mode}

    @property
    def budget(self) -> int:
        """Trials to sample: ``num_samples``, or a default of 10."""
        return self.num_samples or DEFAULT_NUM_SAMPLES


@dataclass(frozen=True)
class SearchPlan:
    """What a strategy hands to Ray Tune: the param space, a search algorithm and the budget."""

    param_space: dict[str, Any]
    search_alg: Any
    num_samples: int
    suggested_by: Callable[[str], str | None] | None = None
    """The method that suggested a trial, by trial id, for the ``suggested_by`` column (None:
    the strategy's name, for every trial)."""


class Plugin(Protocol):
    """What every plugin class provides: its params model and a constructor taking it."""

    Params: ClassVar[type[BaseModel]]

    def __init__(self, params: Any) -> None: ...


class SearchStrategy(Plugin, Protocol):
    """Decides which configurations to try (entry-point group ``tunefw.search``).

    Optional capabilities (``tunefw.plugin_api.capabilities``): ``ChecksTrainable``,
    ``DrivesTrials``, ``TakesNoWarmStart``; its searcher's ``LearnsFromTrials`` and
    ``NamesSuggestions``.
    """

    def plan(self, space: Mapping[str, ParamSpec], settings: SearchSettings) -> SearchPlan:
        """Compile the space into a plan, or raise ``SpaceError`` for what it cannot express."""
        ...


class ValidationStrategy(Plugin, Protocol):
    """Decides how a configuration is scored (entry-point group ``tunefw.validation``).

    Optional capability (``tunefw.plugin_api.capabilities``): ``NestedValidation``.
    """

    def n_splits(self, data: Dataset) -> int:
        """How many splits, hence how many reports a CV trainable makes."""
        ...

    def splits(self, data: Dataset) -> Sequence[Split]:
        """The train/validation splits, in the order they are evaluated."""
        ...


class Regularizer(Plugin, Protocol):
    """Adds hyperparameters and applies them to a model (group ``tunefw.regularization``)."""

    def hyperparameters(self) -> dict[str, ParamSpec]:
        """The parameters this regularizer adds to the search space, by config key."""
        ...

    def check(self, target: object) -> None:
        """Raise ``PluginError`` if the regularizer cannot be applied to ``target``."""
        ...

    def apply(self, target: Target, config: Mapping[str, Any]) -> Target:
        """Apply this trial's values from ``config`` to ``target`` and return it."""
        ...


class TrainableAdapter(Plugin, Protocol):
    """Runs one trial of some kind of model (entry-point group ``tunefw.trainable``).

    Optional capabilities (``tunefw.plugin_api.capabilities``): ``Resumable`` (only those run under
    schedulers that pause trials), ``ReportsOncePerSplit``, ``Differentiable``.
    """

    def check(
        self,
        space: Mapping[str, ParamSpec],
        metrics: Mapping[str, str],
        regularizers: Sequence[Regularizer],
    ) -> None:
        """Refuse, before anything runs, what this trainable cannot do.

        ``metrics`` maps each recipe field that names a metric (``objective.metric``,
        ``objective.constraints[0]``...) to the metric. Raises ``RecipeError`` naming the
        field, e.g. a metric it never reports or a parameter the model does not have.
        """
        ...

    def run(self, ctx: TrialContext) -> None:
        """Train and evaluate one configuration, reporting through ``ctx.report``."""
        ...
