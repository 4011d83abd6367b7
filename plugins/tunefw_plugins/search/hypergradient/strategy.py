"""``hypergradient``: follow the gradient of the validation loss in the hyperparameters.

A population of trials starts from points an outer strategy samples (``outer``: random, qmc,
bayesian...), which also samples every parameter that does not follow the gradient (integers,
choices). In each trial the continuous parameters the trainable can differentiate (its
``differentiable`` mapping: for the ``linear`` trainable, ``l2``) are tuned by the bilevel loop
of ``bilevel.py``; each outer step is one report, so ASHA stops the poor starts. The tuned
values are reported as ``tuned.NAME``; ``best`` and ``best --export`` give those.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field

from tunefw.errors import RecipeError
from tunefw.plugin_api import registry
from tunefw.plugin_api.capabilities import ChecksTrainable, Differentiable, DrivesTrials
from tunefw.plugin_api.context import TrialContext
from tunefw.plugin_api.protocols import Dataset, Regularizer, SearchPlan, SearchSettings, Split
from tunefw.recipe.numbers import FiniteFloat, Int
from tunefw.recipe.space import LogUniform, ParamSpec, Range, Uniform
from tunefw_plugins.search.hypergradient.bilevel import OuterSettings, Scale, run_bilevel
from tunefw_plugins.search.hypergradient.implicit import InverseHvp, hypergradient


class HypergradientSearch(ChecksTrainable, DrivesTrials):
    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")

        outer: str = Field("random", description="Strategy sampling starts and the rest.")
        outer_params: dict[str, Any] = Field(default_factory=dict)
        gradient: list[str] | None = Field(
            None, description="Parameters to follow; every differentiable continuous one if unset."
        )
        steps: Int = Field(50, ge=1, description="Outer (hyperparameter) steps per trial.")
        lr: FiniteFloat = Field(0.5, gt=0, description="Adam's step on the (log) hyperparameters.")
        decay: FiniteFloat = Field(
            0.95, gt=0, le=1, description="Outer learning rate decay per step."
        )
        inner_steps: Int | None = Field(
            None, ge=1, description="Training steps between outer steps; the trainable's if unset."
        )
        inverse: Literal["cg", "neumann"] = Field("cg", description="Inverse-Hessian method.")
        inverse_steps: Int = Field(10, ge=1, description="CG iterations or Neumann terms.")
        neumann_alpha: FiniteFloat = Field(0.01, gt=0)
        damping: FiniteFloat = Field(0.0, ge=0, description="Added to the Hessian's diagonal.")

    def __init__(self, params: Params) -> None:
        self.params = params

    def _outer(self) -> Any:
        if self.params.outer == "hypergradient":
            raise RecipeError("search.params.outer: hypergradient cannot be its own outer search")
        plugin = registry.load("search", self.params.outer)
        return plugin(plugin.Params.model_validate(self.params.outer_params))

    def plan(self, space: Mapping[str, ParamSpec], settings: SearchSettings) -> SearchPlan:
        plan: SearchPlan = self._outer().plan(space, settings)
        return plan

    def followed(
        self, trainable: Any, space: Mapping[str, ParamSpec], regularizers: Sequence[Regularizer]
    ) -> list[str]:
        """The parameters that follow the gradient; refuses those that cannot."""
        can: Mapping[str, str] = (
            trainable.differentiable(regularizers) if isinstance(trainable, Differentiable) else {}
        )
        if not can:
            raise RecipeError(
                "search.strategy: hypergradient needs a trainable whose loss it can "
                f"differentiate (linear, torch); {type(trainable).__name__} exposes none"
            )
        names = self.params.gradient
        if names is None:
            names = [
                n for n, s in space.items() if n in can and isinstance(s, (Uniform, LogUniform))
            ]
        for name in names:
            spec = space.get(name)
            if spec is None:
                raise RecipeError(f"search.params.gradient: the space has no parameter {name!r}")
            if not isinstance(spec, (Uniform, LogUniform)) or (
                isinstance(spec, Uniform) and spec.step is not None
            ):
                raise RecipeError(
                    f"search.params.gradient: {name} is {spec.kind}, not a continuous range; "
                    "leave it to the outer strategy"
                )
            if name not in can:
                raise RecipeError(
                    f"search.params.gradient: the trainable's loss is not differentiable in "
                    f"{name!r} (it is in: {', '.join(sorted(can))})"
                )
        if not names:
            raise RecipeError(
                "search.space: hypergradient found no continuous parameter the trainable can "
                f"differentiate (it can: {', '.join(sorted(can))})"
            )
        return list(names)

    def check_trainable(
        self,
        trainable: Any,
        space: Mapping[str, ParamSpec],
        regularizers: Sequence[Regularizer],
        data: Dataset | None = None,
    ) -> None:
        """Refuse what cannot follow the gradient, and a model torch cannot differentiate
        twice: one hypergradient is computed on a few rows, before any trial starts."""
        names = self.followed(trainable, space, regularizers)
        if data is None or len(data) < 4:
            return
        config = {n: spec.grid_values(2)[0] for n, spec in space.items() if spec.when is None}
        rows = np.arange(min(len(data), 32))
        ctx = TrialContext(
            config=config,
            metric="",
            reporter=lambda metrics, state: None,
            data=data,
            splits=(Split(rows[::2], rows[1::2]),),
            regularizers=regularizers,
            regularizer_keys=frozenset(k for r in regularizers for k in r.hyperparameters()),
            seed=0,
        )
        problem = trainable.bilevel(ctx, names)
        hyper = {n: torch.full(s, 0.1, dtype=torch.float64) for n, s in problem.shapes.items()}
        try:
            hypergradient(
                problem.train_loss, problem.val_loss, problem.weights, hyper, InverseHvp("cg", 2)
            )
        except RuntimeError as exc:
            what = getattr(trainable.params, "model", type(trainable).__name__)
            first = str(exc).strip().splitlines()[0]
            raise RecipeError(
                f"trainable.model: torch cannot differentiate {what} twice, which "
                f"hypergradients need: {first}"
            ) from None

    def drive(self, ctx: TrialContext, trainable: Any, space: Mapping[str, ParamSpec]) -> None:
        """Run one trial: the bilevel loop from this trial's sampled starting point."""
        names = self.followed(trainable, space, ctx.regularizers)
        problem = trainable.bilevel(ctx, names)
        p = self.params
        settings = OuterSettings(
            steps=p.steps,
            lr=p.lr,
            decay=p.decay,
            inner_steps=p.inner_steps or problem.inner_steps,
            inverse=InverseHvp(p.inverse, p.inverse_steps, p.neumann_alpha, p.damping),
        )
        scales = {n: Scale(space[n]) for n in names if isinstance(space[n], Range)}
        start = {n: float(ctx.config[n]) for n in names}
        run_bilevel(problem, start, scales, settings, ctx.report, ctx.restored)
