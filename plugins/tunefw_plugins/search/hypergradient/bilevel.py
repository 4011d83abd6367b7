"""The bilevel loop: train the weights a little, then step the hyperparameters along their
hypergradient (Lorraine, Vicol & Duvenaud 2020), and report after every outer step.

Inner training is warm-started: the weights and their optimizer carry over from one outer
step to the next. Hyperparameters on a log scale are optimised as their logarithm; all are
kept inside the space's bounds. The outer optimizer is Adam with an exponentially decaying
learning rate. A checkpoint after each outer step holds weights, hyperparameters and both
optimizers, so a retried or resumed trial continues the path.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import torch

from tunefw.plugin_api.bilevel_problem import BilevelProblem
from tunefw.recipe.space import Range
from tunefw_plugins.search.hypergradient.implicit import InverseHvp, Tensors, hypergradient

Report = Callable[[dict[str, Any], Any], None]
LR = "lr"
"""The hyperparameter that is the inner learning rate: hypergradient descent, not IFT."""


@dataclass(frozen=True)
class OuterSettings:
    steps: int = 20
    lr: float = 0.1
    decay: float = 0.95
    inner_steps: int = 20
    inverse: InverseHvp = field(default_factory=InverseHvp)


class Scale:
    """A hyperparameter's map between the optimised value and its natural one, with bounds."""

    def __init__(self, spec: Range) -> None:
        self.log = spec.log
        low, high = spec.bounds
        self.low, self.high = (math.log(low), math.log(high)) if self.log else (low, high)

    def inner(self, value: float) -> float:
        return math.log(value) if self.log else value

    def natural(self, theta: torch.Tensor) -> torch.Tensor:
        return theta.exp() if self.log else theta

    def clamp_(self, theta: torch.Tensor) -> None:
        with torch.no_grad():
            theta.clamp_(self.low, self.high)


def run_bilevel(
    problem: BilevelProblem,
    start: Mapping[str, float],
    scales: Mapping[str, Scale],
    settings: OuterSettings,
    report: Report,
    restored: Any = None,
) -> None:
    """Optimise the hyperparameters in ``start`` (values of the sampled config) by gradient.

    ``lr``, if among them, is the inner learning rate: it follows hypergradient descent
    during inner training (Baydin et al. 2018) instead of the implicit hypergradient.
    """
    theta = {
        name: torch.full(
            problem.shapes.get(name, ()), scales[name].inner(value), dtype=torch.float64
        )
        for name, value in start.items()
    }
    if restored:
        theta = {k: t.clone() for k, t in restored["theta"].items()}
    implicit = [k for k in theta if k != LR]
    weights = {k: t.detach().clone().requires_grad_(True) for k, t in problem.weights.items()}
    outer = torch.optim.Adam([theta[k] for k in implicit] or [torch.zeros(1)], lr=settings.lr)
    decay = torch.optim.lr_scheduler.ExponentialLR(outer, gamma=settings.decay)
    inner = problem.optimizer(list(weights.values()))
    first = 1
    if restored:
        first = restored["step"] + 1
        outer.load_state_dict(restored["outer"])  # after the scheduler, which resets the lr
        decay.load_state_dict(restored["decay"])
        with torch.no_grad():
            for k, t in restored["weights"].items():
                weights[k].copy_(t)
        inner.load_state_dict(restored["inner"])
    descent = LearningRateDescent(theta.get(LR), scales.get(LR), inner)

    def natural(th: Tensors) -> Tensors:
        dtype = problem_dtype(problem)
        return {k: scales[k].natural(v).to(dtype) for k, v in th.items() if k != LR}

    def train(w: Tensors, th: Tensors) -> torch.Tensor:
        return problem.train_loss(w, natural(th))

    def val(w: Tensors, th: Tensors) -> torch.Tensor:
        return problem.val_loss(w, natural(th))

    for step in range(first, settings.steps + 1):
        if problem.new_step is not None:
            problem.new_step()
        fixed = {k: theta[k].detach() for k in implicit}
        for _ in range(settings.inner_steps):
            descent.before(weights)
            inner.step(partial(_closure, inner, train, weights, fixed))
            descent.after(weights)
        trained = {k: t.detach() for k, t in weights.items()}
        metrics: dict[str, Any] = {"outer_step": step}
        if implicit:
            found = hypergradient(train, val, trained, fixed, settings.inverse)
            outer.zero_grad()
            for k in implicit:
                theta[k].grad = found.value[k].detach().to(theta[k].dtype)
            norm = math.sqrt(sum(float((g**2).sum()) for g in found.value.values()))
            if math.isfinite(norm):
                outer.step()
            decay.step()
            for k in implicit:
                scales[k].clamp_(theta[k])
            metrics |= {"hypergrad_norm": norm, "ihvp": found.method}
        with torch.no_grad():
            metrics |= problem.evaluate(trained, natural(theta))
        values = natural(theta)
        if LR in theta:
            values[LR] = scales[LR].natural(theta[LR])
        metrics |= tuned_values(values)
        state = {
            "step": step,
            "theta": {k: t.detach().clone() for k, t in theta.items()},
            "weights": {k: t.clone() for k, t in trained.items()},
            "outer": copy.deepcopy(outer.state_dict()),  # a snapshot: the optimizers
            "decay": decay.state_dict(),  # update their state tensors in place
            "inner": copy.deepcopy(inner.state_dict()),
        }
        report(metrics, state)


class LearningRateDescent:
    """Hypergradient descent on the inner learning rate (Baydin et al. 2018), normalised.

    After each inner step, d loss / d lr is ``-g_t · u_{t-1}`` with ``u`` the last update per
    unit of learning rate; its cosine form moves log lr by at most ``rate`` per step, up when
    successive steps agree and down when they undo each other.
    """

    def __init__(
        self, log_lr: torch.Tensor | None, scale: Scale | None, optimizer: Any, rate: float = 0.02
    ) -> None:
        self.log_lr, self.scale, self.optimizer, self.rate = log_lr, scale, optimizer, rate
        self.start: list[torch.Tensor] = []
        self.direction: list[torch.Tensor] | None = None
        if log_lr is not None:
            self._set()

    def _set(self) -> None:
        assert self.log_lr is not None and self.scale is not None
        for group in self.optimizer.param_groups:
            group["lr"] = float(self.scale.natural(self.log_lr))

    def before(self, weights: Tensors) -> None:
        if self.log_lr is not None:
            self.start = [t.detach().clone() for t in weights.values()]

    def after(self, weights: Tensors) -> None:
        if self.log_lr is None or self.scale is None:
            return
        grads = [
            t.grad.detach() if t.grad is not None else torch.zeros_like(t) for t in weights.values()
        ]
        lr = float(self.scale.natural(self.log_lr))
        if self.direction is not None:
            dot = sum(float((g * d).sum()) for g, d in zip(grads, self.direction, strict=True))
            size = math.sqrt(sum(float((g**2).sum()) for g in grads)) * math.sqrt(
                sum(float((d**2).sum()) for d in self.direction)
            )
            if size > 0:
                with torch.no_grad():
                    self.log_lr -= self.rate * dot / size  # dot < 0 when successive steps agree
                self.scale.clamp_(self.log_lr)
                self._set()
        self.direction = [
            (t.detach() - s) / lr for t, s in zip(weights.values(), self.start, strict=True)
        ]


def problem_dtype(problem: BilevelProblem) -> torch.dtype:
    return next(iter(problem.weights.values())).dtype


def _closure(
    optimizer: torch.optim.Optimizer,
    train: Callable[[Tensors, Tensors], torch.Tensor],
    weights: Tensors,
    theta: Tensors,
) -> torch.Tensor:
    optimizer.zero_grad()
    loss = train(weights, theta)
    loss.backward()
    return loss.detach()


def tuned_values(hyper: Tensors) -> dict[str, float]:
    """``tuned.NAME`` for a single value, ``tuned.NAME.i`` for each of a vector's values."""
    out = {}
    for name, value in hyper.items():
        flat = value.detach().flatten()
        if value.dim() == 0:
            out[f"tuned.{name}"] = float(flat[0])
        else:
            out |= {f"tuned.{name}.{i}": float(v) for i, v in enumerate(flat)}
    return out
