"""The torch trainable's training loop pieces, shared by one-process and data-parallel training.

``Epochs`` runs the batches of an epoch; ``EpochReports`` turns each epoch's figures into a
report (with a checkpoint every ``checkpoint_every`` epochs, or when the trial context says
one is due, and at the last) and applies the early-stopping rule.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from tunefw.plugin_api.context import TrialContext
from tunefw.plugin_api.torch_target import TorchTarget
from tunefw_plugins.trainables.epoch_checkpoints import checkpoint_wanted
from tunefw_plugins.trainables.torch_augment import shift_images


@dataclass
class Epochs:
    """Trains ``model`` (or ``forward``, a wrapper of it such as DDP) one epoch at a time."""

    model: nn.Module
    target: TorchTarget
    optimizer: Any
    X: torch.Tensor
    y: torch.Tensor
    device: torch.device
    batch_size: int
    amp: bool = False
    augment_shift: int = 0
    image_shape: tuple[int, int, int] | None = None
    forward: nn.Module | None = None

    def train(self, rows: torch.Tensor, generator: torch.Generator) -> float:
        """One pass over ``rows`` in batches; returns the summed loss (mean times rows)."""
        forward = self.forward or self.model
        forward.train()
        total = 0.0
        for batch in rows.split(self.batch_size):
            xb, yb = self.X[batch], self.y[batch].to(self.device)
            if self.augment_shift and self.image_shape is not None:
                xb = shift_images(xb, self.image_shape, self.augment_shift, generator)
            xb = xb.to(self.device)
            with torch.autocast(self.device.type, torch.bfloat16, enabled=self.amp):
                loss = nn.functional.cross_entropy(forward(xb), yb) + self.target.penalty()
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
            total += float(loss.detach()) * len(batch)
        return total

    @torch.no_grad()
    def evaluate(self, rows: torch.Tensor) -> dict[str, float]:
        self.model.eval()
        logits = self.model(self.X[rows].to(self.device))
        target = self.y[rows].to(self.device)
        return {
            "accuracy": float((logits.argmax(1) == target).float().mean()),
            "loss": float(nn.functional.cross_entropy(logits, target)),
        }

    def state(self, epoch: int) -> dict[str, Any]:
        weights = {k: v.detach().cpu() for k, v in self.model.state_dict().items()}
        return {"epoch": epoch, "model": weights, "optimizer": self.optimizer.state_dict()}

    def restore(self, state: dict[str, Any]) -> None:
        """Weights and optimizer state from a checkpoint, keeping this trial's lr and decay
        (PBT may have changed them)."""
        self.model.load_state_dict(state["model"])
        now = [{k: v for k, v in g.items() if k != "params"} for g in self.optimizer.param_groups]
        self.optimizer.load_state_dict(state["optimizer"])
        for group, settings in zip(self.optimizer.param_groups, now, strict=True):
            group.update(settings)


def make_optimizer(
    kind: str, model: nn.Module, lr: float, momentum: float, weight_decay: float
) -> Any:
    params = [p for p in model.parameters() if p.requires_grad]
    if kind == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    cls = torch.optim.AdamW if kind == "adamw" else torch.optim.Adam
    return cls(params, lr=lr, weight_decay=weight_decay)


class EpochReports:
    """Reports each epoch to the trial, checkpoints, and stops a trial whose metric stalls."""

    def __init__(
        self, ctx: TrialContext, target: TorchTarget, epochs: int, every: int | None, first: int
    ) -> None:
        self.ctx = ctx
        self.epochs = epochs
        self.every = every
        self.first = first
        self.watch = _Plateau(target, ctx.metric)

    def report(
        self, metrics: dict[str, Any], epoch: int, state: Callable[[], dict[str, Any]]
    ) -> bool:
        """Report ``metrics`` (checkpointing ``state()`` when due); True to stop training."""
        metrics = {**metrics, "epoch": epoch}
        if self.first > 1:
            metrics["resumed_from_epoch"] = self.first - 1
        reason = self.watch.update(metrics[self.ctx.metric], epoch)
        if reason:
            metrics["stopped_reason"] = reason
        save = reason is not None or checkpoint_wanted(self.ctx, self.every, epoch, self.epochs)
        self.ctx.report(metrics, state=state() if save else None)
        return reason is not None


class _Plateau:
    """Applies the target's early-stopping rule, if any, to the objective's metric."""

    def __init__(self, target: TorchTarget, metric: str) -> None:
        self.rule = target.early_stopping
        self.metric = metric
        self.sign = 1.0 if metric == "accuracy" else -1.0
        self.best = -np.inf
        self.best_epoch = 0

    def update(self, value: float, epoch: int) -> str | None:
        if self.rule is None:
            return None
        if self.sign * value > self.best + self.rule.min_delta:
            self.best, self.best_epoch = self.sign * value, epoch
            return None
        if epoch - self.best_epoch >= self.rule.patience:
            return (
                f"early_stopping: {self.metric} did not improve by more than "
                f"{self.rule.min_delta} in {self.rule.patience} epochs (best at epoch "
                f"{self.best_epoch})"
            )
        return None
