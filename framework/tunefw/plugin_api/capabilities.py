"""The optional capabilities a plugin declares, each once, by subclassing.

A plugin kind's Protocol (``tunefw.plugin_api.protocols``) is what every plugin of the kind
must do; a capability is what some do beyond it. The core asks ``isinstance(plugin, Capability)``,
never ``getattr``: a plugin that misspells a hook fails to build (an abstract method left
undefined) rather than silently losing the behaviour. ``tunefw.testing.contracts`` checks
each capability a plugin claims, and docs/plugins.md lists them from this module.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tunefw.plugin_api.bilevel_problem import BilevelProblem
    from tunefw.plugin_api.context import TrialContext
    from tunefw.plugin_api.protocols import Dataset, Regularizer, Split, ValidationStrategy
    from tunefw.recipe.space import ParamSpec


class NamesSuggestions(ABC):
    """Searcher: one that uses several methods says which one suggested a trial (the
    ``suggested_by`` column)."""

    @abstractmethod
    def suggested_by(self, trial_id: str) -> str | None:
        """The method behind trial ``trial_id``'s config, None if it suggested none."""


class LearnsFromTrials(ABC):
    """Searcher: a Ray Tune ``Searcher`` that learns from trials evaluated elsewhere.

    A resumed run rebuilds its searcher from the recipe and tells it every stored trial, as
    Optuna rebuilds a study from its stored trials. A searcher without this capability goes
    on from its seed without them.
    """

    @abstractmethod
    def learn(self, config: Mapping[str, Any], result: Mapping[str, Any] | None) -> None:
        """``config`` was evaluated and ended with ``result`` (its last one; None: errored)."""

    def expect(self, config: Mapping[str, Any]) -> None:  # noqa: B027 (optional, no-op)
        """``config`` is being evaluated again (a rerun); ``learn`` gets its result.

        A searcher that models trials in flight holds it as running, in its stored place;
        by default nothing happens until ``learn``.
        """


class TakesNoWarmStart:
    """Search strategy: takes no initial points, so a stage after it is not warm-started
    from it (``grid`` visits every combination anyway)."""


class ChecksTrainable(ABC):
    """Search strategy: refuses, before anything runs, a trainable it cannot work with."""

    @abstractmethod
    def check_trainable(
        self,
        trainable: Any,
        space: Mapping[str, ParamSpec],
        regularizers: Sequence[Regularizer],
        data: Dataset | None,
    ) -> None:
        """Raise ``RecipeError`` naming the field if ``trainable`` cannot be searched so;
        ``data`` is None when the recipe is validated without loading it."""


class DrivesTrials(ABC):
    """Search strategy: runs each trial itself instead of ``trainable.run(ctx)``
    (``hypergradient`` trains inside its bilevel loop)."""

    @abstractmethod
    def drive(self, ctx: TrialContext, trainable: Any, space: Mapping[str, ParamSpec]) -> None:
        """Run one trial of ``trainable``, reporting through ``ctx.report``."""


class NestedValidation(ABC):
    """Validation strategy: an outer CV around the whole tuning procedure. Each outer fold
    is tuned on its training rows with ``inner``, and the best config scored on the rest."""

    inner: ValidationStrategy
    """The strategy that scores configurations inside each outer fold."""

    @abstractmethod
    def outer_splits(self, data: Dataset) -> list[Split]:
        """The outer splits of all rows."""


class Resumable:
    """Trainable: its trials checkpoint through ``ctx.report(..., state=...)`` and go on from
    ``ctx.restored``; only such trainables run under schedulers that pause trials
    (hyperband, bohb, pbt)."""


class ReportsOncePerSplit:
    """Trainable: it reports once per validation split, so its iterations are folds.

    A scheduler's ``max_t`` is then the number of splits (``scheduler_folds``), since any
    other value scores trials on the wrong folds.
    """


class ReportsEpochs(ABC):
    """Trainable: it reports once per epoch and knows how many epochs a trial trains.

    A halving scheduler's ``max_t`` left out is then the epochs, and ASHA's ``grace_period``
    left out a tenth of ``max_t`` (at least 1), since a network's first epoch is its
    noisiest judge (``scheduler_epochs``).
    """

    @abstractmethod
    def epochs(self, space: Mapping[str, ParamSpec]) -> int | None:
        """The most epochs a trial of ``space`` trains; None when the space tunes them."""


class StartsWorkers(ABC):
    """Trainable: each trial starts workers of its own that reserve resources outside the
    trial's placement group (Ray Train's data-parallel workers reserve theirs). The run is
    refused at once when no node can hold them beside the trial, instead of waiting for them
    forever."""

    workers_field: str = "trainable"
    """The recipe field that sets what the workers hold, for the refusal's message."""

    @abstractmethod
    def worker_bundles(self) -> Sequence[Mapping[str, float]]:
        """What each worker a trial starts holds, in Ray's resource names (``CPU``,
        ``GPU``, ...); empty when this trial starts none."""


class Differentiable(ABC):
    """Trainable: its training is a differentiable problem the ``hypergradient`` strategy
    can tune by gradient descent on the hyperparameters."""

    @abstractmethod
    def differentiable(self, regularizers: Sequence[Regularizer]) -> Mapping[str, str]:
        """The space keys its losses are differentiable in, each with what it is (e.g.
        ``{"l2": "weight decay"}``), given the recipe's regularizers."""

    @abstractmethod
    def bilevel(self, ctx: TrialContext, names: Sequence[str]) -> BilevelProblem:
        """This trial's problem, differentiable in the hyperparameters ``names``."""


_OLD_HOOKS: dict[str, type] = {
    "resumable": Resumable,
    "takes_warm_start": TakesNoWarmStart,
    "check_trainable": ChecksTrainable,
    "drive": DrivesTrials,
    "outer_splits": NestedValidation,
    "differentiable": Differentiable,
    "bilevel": Differentiable,
}
"""What plugins declared before this module: an attribute the core probed for."""


def undeclared(cls: type) -> list[str]:
    """The old-style hooks ``cls`` defines without subclassing their capability, each as
    advice; the core no longer reads them, so a plugin that still relies on one is told."""
    defined = {name for klass in cls.__mro__ for name in vars(klass)}
    return [
        f"{cls.__module__}.{cls.__qualname__} defines {name!r} but does not subclass "
        f"tunefw.plugin_api.capabilities.{capability.__name__}, so tunefw does not use it"
        for name, capability in _OLD_HOOKS.items()
        if name in defined and not issubclass(cls, capability)
    ]
