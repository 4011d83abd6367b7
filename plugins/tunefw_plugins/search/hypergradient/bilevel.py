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

from tunefw.space import Range
from tunefw_plugins.search.hypergradient.implicit import InverseHvp, Tensors, hypergradient
from tunefw_plugins.search.hypergradient.problem import BilevelProblem

Report = Callable[[dict[str, Any], Any], None]


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
    """Optimise the hyperparameters in ``start`` (values of the sampled config) by gradient."""
    theta = {
        name: torch.full(problem.shapes[name], scales[name].inner(value), dtype=torch.float64)
        for name, value in start.items()
    }
    weights = {k: t.detach().clone().requires_grad_(True) for k, t in problem.weights.items()}
    outer = torch.optim.Adam(list(theta.values()), lr=settings.lr)
    decay = torch.optim.lr_scheduler.ExponentialLR(outer, gamma=settings.decay)
    inner = problem.optimizer(list(weights.values()))
    first = 1
    if restored:
        first = restored["step"] + 1
        for k, t in restored["theta"].items():
            theta[k] = t.clone()
        outer = torch.optim.Adam(list(theta.values()), lr=settings.lr)
        decay = torch.optim.lr_scheduler.ExponentialLR(outer, gamma=settings.decay)
        outer.load_state_dict(restored["outer"])  # after the scheduler, which resets the lr
        decay.load_state_dict(restored["decay"])
        with torch.no_grad():
            for k, t in restored["weights"].items():
                weights[k].copy_(t)
        inner.load_state_dict(restored["inner"])

    def natural(th: Tensors) -> Tensors:
        return {k: scales[k].natural(v).to(problem_dtype(problem)) for k, v in th.items()}

    def train(w: Tensors, th: Tensors) -> torch.Tensor:
        return problem.train_loss(w, natural(th))

    def val(w: Tensors, th: Tensors) -> torch.Tensor:
        return problem.val_loss(w, natural(th))

    for step in range(first, settings.steps + 1):
        fixed = {k: t.detach() for k, t in theta.items()}
        for _ in range(settings.inner_steps):
            inner.step(partial(_closure, inner, train, weights, fixed))
        trained = {k: t.detach() for k, t in weights.items()}
        found = hypergradient(train, val, trained, fixed, settings.inverse)
        outer.zero_grad()
        for k, t in theta.items():
            t.grad = found.value[k].detach().to(t.dtype)
        norm = math.sqrt(sum(float((g**2).sum()) for g in found.value.values()))
        if math.isfinite(norm):
            outer.step()
        decay.step()
        for k, t in theta.items():
            scales[k].clamp_(t)
        with torch.no_grad():
            metrics = problem.evaluate(trained, natural(theta))
        metrics |= {"hypergrad_norm": norm, "ihvp": found.method, "outer_step": step}
        metrics |= tuned_values(natural(theta))
        state = {
            "step": step,
            "theta": {k: t.detach().clone() for k, t in theta.items()},
            "weights": {k: t.clone() for k, t in trained.items()},
            "outer": copy.deepcopy(outer.state_dict()),  # a snapshot: the optimizers
            "decay": decay.state_dict(),  # update their state tensors in place
            "inner": copy.deepcopy(inner.state_dict()),
        }
        report(metrics, state)


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
