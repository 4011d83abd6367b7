"""Hypergradients of a validation loss by implicit differentiation (Lorraine et al. 2020).

At trained weights ``w*`` of ``train_loss(w, h)``, the implicit function theorem gives

    d val_loss / d h = ∂val/∂h - (∂²train/∂h∂w) H⁻¹ ∂val/∂w,   H = ∂²train/∂w²

``H⁻¹ v`` is approximated by a Neumann series or by conjugate gradients, from
Hessian-vector products: forward-over-reverse (``jvp`` of ``grad``, ``torch.func``), or
double backward where forward mode is not supported. Weights and hyperparameters are dicts of
tensors, as ``torch.func.functional_call`` takes them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch
from torch.func import grad, jvp

from tunefw.plugin_api.bilevel_problem import Loss, Tensors


class NeumannDiverged(ArithmeticError):
    """The Neumann series grew instead of shrinking: the step size is too large for H."""


def _dot(a: Tensors, b: Tensors) -> torch.Tensor:
    return sum((a[k] * b[k]).sum() for k in a)  # type: ignore[return-value]


def _axpy(alpha: float | torch.Tensor, x: Tensors, y: Tensors) -> Tensors:
    """``alpha * x + y``."""
    return {k: alpha * x[k] + y[k] for k in x}


def _norm(a: Tensors) -> float:
    return float(torch.sqrt(_dot(a, a)))


def hvp(loss: Callable[[Tensors], torch.Tensor], w: Tensors, v: Tensors) -> Tensors:
    """``H v`` for the Hessian of ``loss`` at ``w``: forward over reverse, else double backward."""
    try:
        out: Tensors = jvp(grad(loss), (w,), (v,))[1]
        return out
    except (RuntimeError, NotImplementedError):
        leaves = {k: t.detach().requires_grad_(True) for k, t in w.items()}
        with torch.enable_grad():
            g = torch.autograd.grad(loss(leaves), list(leaves.values()), create_graph=True)
            hv = torch.autograd.grad(g, list(leaves.values()), grad_outputs=list(v.values()))
        return dict(zip(leaves, hv, strict=True))


def neumann(apply_h: Callable[[Tensors], Tensors], v: Tensors, steps: int, alpha: float) -> Tensors:
    """``H⁻¹ v ≈ alpha Σ_j (I - alpha H)ʲ v``; raises ``NeumannDiverged`` if terms grow."""
    term, total = dict(v), dict(v)
    start = _norm(v)
    for _ in range(steps):
        term = _axpy(-alpha, apply_h(term), term)
        size = _norm(term)
        if not math.isfinite(size) or size > 1e3 * max(start, 1e-30):
            raise NeumannDiverged(f"Neumann series diverged (alpha={alpha:g})")
        total = _axpy(1.0, term, total)
    return {k: alpha * t for k, t in total.items()}


def conjugate_gradient(
    apply_h: Callable[[Tensors], Tensors], v: Tensors, steps: int, tol: float = 1e-10
) -> Tensors:
    """Solve ``H x = v`` for a symmetric positive-definite ``H``."""
    x = {k: torch.zeros_like(t) for k, t in v.items()}
    r, p = dict(v), dict(v)
    rr = _dot(r, r)
    for _ in range(steps):
        if float(rr) <= tol * tol:
            break
        hp = apply_h(p)
        step = rr / _dot(p, hp)
        x = _axpy(step, p, x)
        r = _axpy(-step, hp, r)
        rr_next = _dot(r, r)
        p = _axpy(rr_next / rr, p, r)
        rr = rr_next
    return x


@dataclass(frozen=True)
class InverseHvp:
    """How ``H⁻¹ v`` is approximated."""

    method: Literal["neumann", "cg"] = "cg"
    steps: int = 20
    alpha: float = 0.01
    """Neumann step size: the series converges when alpha < 2 / (largest eigenvalue of H)."""
    damping: float = 0.0
    """Added to H's diagonal: keeps CG defined where H is only semi-definite."""


@dataclass(frozen=True)
class Hypergradient:
    value: Tensors
    method: str
    """The method that gave it: ``neumann``, ``cg``, or ``cg (neumann diverged)``."""


def hypergradient(
    train_loss: Loss, val_loss: Loss, w: Tensors, h: Tensors, how: InverseHvp = InverseHvp()
) -> Hypergradient:
    """``d val_loss(w*(h), h) / d h`` at trained weights ``w``, by implicit differentiation."""
    v = grad(val_loss, argnums=0)(w, h)
    direct = grad(val_loss, argnums=1)(w, h)

    def apply_h(u: Tensors) -> Tensors:
        hu = hvp(lambda w_: train_loss(w_, h), w, u)
        return _axpy(how.damping, u, hu) if how.damping else hu

    method = how.method
    if how.method == "neumann":
        try:
            x = neumann(apply_h, v, how.steps, how.alpha)
        except NeumannDiverged:
            x, method = conjugate_gradient(apply_h, v, max(how.steps, 20)), "cg (neumann diverged)"
    else:
        x = conjugate_gradient(apply_h, v, how.steps)
    x = {k: t.detach() for k, t in x.items()}
    mixed = grad(lambda h_: _dot(grad(train_loss, argnums=0)(w, h_), x))(h)
    return Hypergradient({k: direct[k] - mixed[k] for k in h}, method)
