"""``linear``: a linear model in torch (ridge regression, or multinomial logistic regression)
with an L2 penalty that the ``hypergradient`` strategy can tune: one coefficient for all
weights, or one per feature (``l2_per: feature``).

Space keys: ``l2`` (the penalty; the recipe's ``l2`` if not searched), ``lr``, ``epochs``.
It trains full-batch on the validation strategy's first split, in float64, with L-BFGS (or
Adam) and reports the validation ``loss`` (mean squared error, or cross-entropy) and ``r2``
or ``accuracy`` after every epoch, checkpointing each.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field

from tunefw.errors import RecipeError
from tunefw.plugin_api.bilevel_problem import BilevelProblem, Tensors
from tunefw.plugin_api.capabilities import Differentiable, Resumable
from tunefw.plugin_api.context import TrialContext
from tunefw.plugin_api.protocols import Regularizer
from tunefw.recipe.numbers import FiniteFloat, Int
from tunefw.recipe.objective import check_reported
from tunefw.recipe.space import ParamSpec

SPACE_KEYS = ("l2", "lr", "epochs")
METRICS = {"regression": ("loss", "r2"), "classification": ("loss", "accuracy")}


class LinearParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    task: Literal["regression", "classification"] = "regression"
    l2: FiniteFloat = Field(1e-3, ge=0, description="The L2 penalty, unless the space searches it.")
    l2_per: Literal["global", "feature"] = Field(
        "global", description="One L2 coefficient, or one per input feature."
    )
    optimizer: Literal["lbfgs", "adam"] = "lbfgs"
    lr: FiniteFloat = Field(1.0, gt=0, description="L-BFGS step (1 is usual) or Adam's rate.")
    epochs: Int = Field(20, ge=1, description="Full-batch steps (L-BFGS: up to 20 iterations).")
    standardize: bool = True


class LinearTrainable(Resumable, Differentiable):
    Params = LinearParams

    def __init__(self, params: LinearParams) -> None:
        self.params = params

    def differentiable(self, regularizers: Sequence[Regularizer]) -> dict[str, str]:
        """The space keys the loss is differentiable in, and what each is."""
        return {"l2": f"L2 coefficient ({self.params.l2_per})"}

    def check(
        self,
        space: Mapping[str, ParamSpec],
        metrics: Mapping[str, str],
        regularizers: Sequence[Regularizer],
    ) -> None:
        known = METRICS[self.params.task]
        who = f"the linear trainable ({self.params.task})"
        check_reported(metrics, known.__contains__, who, ", ".join(known))
        for key in space:
            if key not in SPACE_KEYS:
                raise RecipeError(
                    f"search.space.{key}: the linear trainable takes {', '.join(SPACE_KEYS)}"
                )
        if regularizers:
            raise RecipeError(
                "regularization: the linear trainable has its own L2 penalty; search "
                "`l2` in the space instead"
            )

    def _tensors(self, ctx: TrialContext) -> tuple[torch.Tensor, ...]:
        if ctx.data is None:
            raise RecipeError("data: the linear trainable needs a data section with a loader")
        X = torch.tensor(np.asarray(ctx.data.X, dtype=np.float64))
        y = torch.tensor(np.asarray(ctx.data.y))
        y = y.double() if self.params.task == "regression" else y.long()
        split = ctx.splits[0]
        train, valid = torch.tensor(split.train), torch.tensor(split.valid)
        if self.params.standardize:
            mean, std = X[train].mean(0), X[train].std(0).clamp_min(1e-12)
            X = (X - mean) / std
        return X[train], y[train], X[valid], y[valid]

    def bilevel(self, ctx: TrialContext, names: Sequence[str] = ("l2",)) -> BilevelProblem:
        """The training problem as differentiable functions of weights and ``l2``."""
        X, y, Xv, yv = self._tensors(ctx)
        torch.manual_seed(ctx.seed or 0)
        outputs = 1 if self.params.task == "regression" else int(max(y.max(), yv.max())) + 1
        weights = {
            "weight": torch.zeros(X.shape[1], outputs, dtype=torch.float64),
            "bias": torch.zeros(outputs, dtype=torch.float64),
        }
        fixed_l2 = float(ctx.config.get("l2", self.params.l2))
        per_feature = self.params.l2_per == "feature"

        def fit_loss(w: Tensors, inputs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
            out = inputs @ w["weight"] + w["bias"]
            if self.params.task == "regression":
                return ((out.squeeze(1) - target) ** 2).mean()
            return torch.nn.functional.cross_entropy(out, target)

        def penalty(w: Tensors, h: Tensors) -> torch.Tensor:
            l2 = h.get("l2", torch.tensor(fixed_l2, dtype=torch.float64))
            scale = l2.reshape(-1, 1) if per_feature else l2
            return 0.5 * (scale * w["weight"] ** 2).sum()

        def evaluate(w: Tensors, h: Tensors) -> dict[str, float]:
            loss = float(fit_loss(w, Xv, yv))
            out = Xv @ w["weight"] + w["bias"]
            if self.params.task == "regression":
                residual = ((out.squeeze(1) - yv) ** 2).sum()
                r2 = 1.0 - float(residual / ((yv - yv.mean()) ** 2).sum())
                return {"loss": loss, "r2": r2}
            return {"loss": loss, "accuracy": float((out.argmax(1) == yv).double().mean())}

        return BilevelProblem(
            weights=weights,
            shapes={"l2": (X.shape[1],) if per_feature else ()},
            train_loss=lambda w, h: fit_loss(w, X, y) + penalty(w, h),
            val_loss=lambda w, h: fit_loss(w, Xv, yv),
            evaluate=evaluate,
            inner=self.params.optimizer,
            inner_lr=float(ctx.config.get("lr", self.params.lr)),
            inner_steps=1 if self.params.optimizer == "lbfgs" else 20,
        )

    def run(self, ctx: TrialContext) -> None:
        """Plain training at this config's ``l2``: one report (and checkpoint) per epoch."""
        problem = self.bilevel(ctx)
        weights = {k: t.clone().requires_grad_(True) for k, t in problem.weights.items()}
        optimizer = problem.optimizer(list(weights.values()))
        state = ctx.restored or {"epoch": 0}
        if ctx.restored:
            with torch.no_grad():
                for k, t in state["weights"].items():
                    weights[k].copy_(t)
            optimizer.load_state_dict(state["optimizer"])
        hyper: Tensors = {}

        def closure() -> torch.Tensor:
            optimizer.zero_grad()
            loss = problem.train_loss(weights, hyper)
            loss.backward()
            return loss.detach()

        epochs = int(ctx.config.get("epochs", self.params.epochs))
        for epoch in range(state["epoch"] + 1, epochs + 1):
            optimizer.step(closure)
            trained = {k: t.detach().clone() for k, t in weights.items()}
            metrics = problem.evaluate(trained, hyper) | {"epoch": epoch}
            ctx.report(
                metrics,
                state={
                    "epoch": epoch,
                    "weights": trained,
                    "optimizer": copy.deepcopy(optimizer.state_dict()),
                },
            )
