"""What a trainable hands the ``hypergradient`` strategy: a differentiable training problem.

A trainable that can be tuned by hypergradients subclasses
``tunefw.plugin_api.capabilities.Differentiable``:
``differentiable`` (the space keys it can differentiate) and ``bilevel(ctx, names)``, which
returns a ``BilevelProblem``. Hyperparameters reach the losses in their natural scale (an L2
coefficient, not its log). It lives in the framework, beside ``TorchTarget``, so a trainable
plugin need not import the search plugin that consumes it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch

Tensors = dict[str, torch.Tensor]
Loss = Callable[[Tensors, Tensors], torch.Tensor]


@dataclass
class BilevelProblem:
    weights: Tensors
    """The initial weights."""
    shapes: dict[str, tuple[int, ...]]
    """Each differentiable hyperparameter's shape: () for one value, (n,) for one per feature."""
    train_loss: Loss
    val_loss: Loss
    """Differentiable validation loss, the one the hypergradient descends."""
    evaluate: Callable[[Tensors, Tensors], dict[str, float]]
    """The metrics to report (the objective's among them) at weights and hyperparameters."""
    inner: Literal["lbfgs", "adam"] = "adam"
    inner_lr: float = 0.01
    inner_steps: int = 20
    """Optimizer steps between outer steps, unless the strategy sets them: one L-BFGS step
    (up to 20 iterations) goes as far as many Adam steps."""
    new_step: Callable[[], None] | None = None
    """Called before each outer step (e.g. to draw new dropout noise)."""

    def optimizer(self, leaves: list[torch.Tensor]) -> torch.optim.Optimizer:
        if self.inner == "lbfgs":
            return torch.optim.LBFGS(
                leaves, lr=self.inner_lr, max_iter=20, line_search_fn="strong_wolfe"
            )
        return torch.optim.Adam(leaves, lr=self.inner_lr)
