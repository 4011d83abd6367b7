"""``TorchTarget``: what regularizers act on in a torch trial.

A scikit-learn estimator carries its penalty in its params; a torch model does not, so the
torch trainable hands regularizers this object instead: the model, and the training knobs they
set (weight decay, an L1 term on the loss, the dropout rate, early stopping). torch is not
imported here, so plugins can check a target's type without paying for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class EarlyStopping:
    """Stop a trial whose validation metric has not improved by ``min_delta`` in ``patience``."""

    patience: int
    min_delta: float


@dataclass
class TorchTarget:
    model: Any
    weight_decay: float = 0.0
    l1: float = 0.0
    dropout: float | None = None
    early_stopping: EarlyStopping | None = None

    def add_penalty(self, l1: float, l2: float) -> None:
        self.l1 += l1
        self.weight_decay += l2

    def penalty(self) -> Any:
        """The L1 term to add to the training loss (weights only, not biases or norms)."""
        if not self.l1:
            return 0.0
        weights = [p for p in self.model.parameters() if p.requires_grad and p.dim() > 1]
        return self.l1 * sum(w.abs().sum() for w in weights)

    def snapshot(self) -> tuple[float, float, float | None, EarlyStopping | None]:
        """The knobs regularizers set, for comparing two targets."""
        return (self.weight_decay, self.l1, self.dropout, self.early_stopping)
