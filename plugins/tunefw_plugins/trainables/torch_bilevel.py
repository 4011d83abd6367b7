"""The torch trainable as a differentiable problem, for the ``hypergradient`` strategy.

Which space keys are differentiable is read from the recipe's regularizers by probing: a key
whose value a regularizer writes, as is, into the ``TorchTarget``'s ``weight_decay`` is an L2
coefficient (``l2``); into ``dropout``, a dropout rate (``dropout``). Weight decay enters the
training loss as ``0.5 * wd * |W|²`` over weight matrices: one coefficient (``l2_per:
global``), one per layer's weight matrix (``layer``), or one per parameter tensor, biases
included (``tensor``). Dropout becomes concrete dropout (a relaxed Bernoulli mask, Gal et al.
2017) whose rate the loss is differentiable in; its noise is fixed within an outer step, so the
training loss is a deterministic function there. The learning rate follows hypergradient
descent inside the inner loop instead (see ``bilevel.py``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn
from torch.func import functional_call

from tunefw.errors import PluginError
from tunefw.plugin_api.bilevel_problem import BilevelProblem, Tensors
from tunefw.plugin_api.protocols import Regularizer
from tunefw.plugin_api.torch_target import TorchTarget

ROLES = ("weight_decay", "dropout")
TEMPERATURE = 0.1


def differentiable_keys(regularizers: Sequence[Regularizer]) -> dict[str, str]:
    """Space keys that set the weight decay or the dropout rate, as is: ``{key: role}``."""
    found = {}
    for regularizer in regularizers:
        specs = regularizer.hyperparameters()
        base = {k: s.grid_values(2)[0] for k, s in specs.items()}
        for key in specs:
            for role in ROLES:
                if all(_sets(regularizer, base | {key: v}, role, v) for v in (0.125, 0.25)):
                    found[key] = role
    return found


def _sets(regularizer: Regularizer, config: Mapping[str, Any], role: str, value: float) -> bool:
    probe = TorchTarget(model=nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.0)))
    try:
        after = regularizer.apply(probe, config)
    except (PluginError, KeyError, TypeError, ValueError):  # it plays no role on the probe
        return False
    return isinstance(after, TorchTarget) and getattr(after, role) == value


class ConcreteDropout(nn.Module):
    """Dropout with a differentiable rate: a relaxed Bernoulli mask at a low temperature."""

    def __init__(self, holder: dict[str, Any]) -> None:
        super().__init__()
        self.holder = holder

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rate = self.holder.get("rate")
        if not self.training or rate is None:
            return x
        generator = self.holder["generator"]
        u = torch.rand(x.shape, generator=generator, dtype=x.dtype).clamp(1e-6, 1 - 1e-6)
        logit = (rate.log() - (1 - rate).log() + u.log() - (1 - u).log()) / TEMPERATURE
        keep = 1 - torch.sigmoid(logit)
        return x * keep / (1 - rate)


def with_concrete_dropout(model: nn.Module, holder: dict[str, Any]) -> int:
    """Swap every ``nn.Dropout`` of ``model`` for concrete dropout; how many there were."""
    swapped = 0
    for name, child in model.named_children():
        if isinstance(child, nn.Dropout):
            setattr(model, name, ConcreteDropout(holder))
            swapped += 1
        else:
            swapped += with_concrete_dropout(child, holder)
    return swapped


def torch_problem(
    model: nn.Module,
    data: tuple[torch.Tensor, ...],
    roles: Mapping[str, str],
    per: str,
    lr: float,
    seed: int,
) -> BilevelProblem:
    """``model`` trained full-batch on ``data`` (X, y, train rows, valid rows) as a problem."""
    X, y, train, valid = data
    holder: dict[str, Any] = {"generator": torch.Generator().manual_seed(seed)}
    with_concrete_dropout(model, holder)
    weights = {k: p.detach().clone() for k, p in model.named_parameters() if p.requires_grad}
    matrices = [k for k, t in weights.items() if t.dim() > 1 or per == "tensor"]
    per_layer = per != "global"
    decay_key = next((k for k, r in roles.items() if r == "weight_decay"), None)
    rate_key = next((k for k, r in roles.items() if r == "dropout"), None)

    def logits(w: Tensors, rows: torch.Tensor) -> torch.Tensor:
        return functional_call(model, w, (X[rows],))  # type: ignore[no-any-return]

    def train_loss(w: Tensors, h: Tensors) -> torch.Tensor:
        model.train()
        holder["rate"] = h.get(rate_key) if rate_key else None
        generator: torch.Generator = holder["generator"]
        state = generator.get_state()
        loss = nn.functional.cross_entropy(logits(w, train), y[train])
        generator.set_state(state)  # the same mask on every call within an outer step
        if decay_key in h:
            decay = h[decay_key]
            for i, name in enumerate(matrices):
                coefficient = decay[i] if per_layer else decay
                loss = loss + 0.5 * coefficient * (w[name] ** 2).sum()
        return loss

    def val_loss(w: Tensors, h: Tensors) -> torch.Tensor:
        model.eval()
        return nn.functional.cross_entropy(logits(w, valid), y[valid])

    def evaluate(w: Tensors, h: Tensors) -> dict[str, float]:
        model.eval()
        out = logits(w, valid)
        return {
            "loss": float(nn.functional.cross_entropy(out, y[valid])),
            "accuracy": float((out.argmax(1) == y[valid]).float().mean()),
        }

    def next_noise() -> None:
        holder["generator"].manual_seed(int(torch.randint(0, 2**31 - 1, (1,))))

    shapes: dict[str, tuple[int, ...]] = {}
    if decay_key:
        shapes[decay_key] = (len(matrices),) if per_layer else ()
    if rate_key:
        shapes[rate_key] = ()
    return BilevelProblem(
        weights=weights,
        shapes=shapes,
        train_loss=train_loss,
        val_loss=val_loss,
        evaluate=evaluate,
        inner="adam",
        inner_lr=lr,
        new_step=next_noise,
    )
