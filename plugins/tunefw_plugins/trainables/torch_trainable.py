"""``torch``: train a torch classifier, reporting validation accuracy and loss every epoch.

The model is a built-in (``mlp``, ``cnn``) or any ``module:factory`` called with
``(n_features, n_classes, **model_params)``. Hyperparameters in the space override the
params of the same name (``lr``, ``batch_size``, ``epochs``, ``momentum``) or are passed to
the model (``hidden``, ``layers``, ``channels``...). The trial trains on the validation
strategy's first split, on CUDA when Ray gave it a GPU, seeded by the trial's seed, and
checkpoints every ``checkpoint_every`` epochs, so a retried or resumed trial goes on from there.
"""

from __future__ import annotations

import fnmatch
import inspect
import io
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from pyarrow import fs as pafs
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from tunefw.context import TrialContext
from tunefw.errors import RecipeError
from tunefw.imports import import_object
from tunefw.objective import check_reported
from tunefw.protocols import Regularizer
from tunefw.space import ParamSpec
from tunefw.torch_target import TorchTarget
from tunefw_plugins.search.hypergradient.problem import BilevelProblem
from tunefw_plugins.trainables.torch_augment import shift_images
from tunefw_plugins.trainables.torch_bilevel import differentiable_keys, torch_problem
from tunefw_plugins.trainables.torch_models import BUILT_IN

METRICS = ("accuracy", "loss", "train_loss", "epoch_seconds")
TRAINING_KEYS = ("lr", "batch_size", "epochs", "momentum")


class TorchParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str = Field("mlp", description="'mlp', 'cnn', or an import path 'module:factory'.")
    model_params: dict[str, Any] = Field(default_factory=dict)
    optimizer: Literal["adam", "adamw", "sgd"] = "adam"
    lr: float = Field(1e-3, gt=0)
    momentum: float = Field(0.9, ge=0, lt=1, description="For sgd.")
    batch_size: int = Field(64, ge=1)
    epochs: int = Field(10, ge=1)
    checkpoint_every: int = Field(1, ge=1, description="Checkpoint every N epochs (and the last).")
    amp: bool = Field(False, description="Mixed precision (bfloat16 autocast) on a GPU.")
    standardize: bool = Field(
        False, description="Scale features by the training rows' mean and standard deviation."
    )
    pretrained: str | None = Field(
        None, description="A state dict (path or URI) to start from: transfer learning."
    )
    freeze: list[str] = Field(
        default_factory=list, description="Parameter name patterns to freeze, e.g. 'body.0.*'."
    )
    reinit: list[str] = Field(
        default_factory=list,
        description="Parameter name patterns not taken from `pretrained`, e.g. the head.",
    )
    augment_shift: int = Field(
        0,
        ge=0,
        description="Shift each training image by up to N pixels at random (image models).",
    )
    save_model: str | None = Field(
        None, description="Write the trained state dict here (path or URI), for later transfer."
    )
    l2_per: Literal["global", "layer", "tensor"] = Field(
        "global",
        description="Hypergradient search: one weight decay, one per layer, or one per tensor.",
    )


class TorchTrainable:
    Params = TorchParams
    resumable = True

    def __init__(self, params: TorchParams) -> None:
        self.params = params

    def _factory(self) -> Any:
        name = self.params.model
        return BUILT_IN.get(name) or import_object(name, "trainable.model")

    def check(
        self,
        space: Mapping[str, ParamSpec],
        metrics: Mapping[str, str],
        regularizers: Sequence[Regularizer],
    ) -> None:
        check_reported(metrics, METRICS.__contains__, "the torch trainable", ", ".join(METRICS))
        factory = self._factory()
        accepted = set(inspect.signature(factory).parameters) - {"n_features", "n_classes"}
        reg_keys = {k for r in regularizers for k in r.hyperparameters()}
        for key in space:
            if key not in reg_keys and key not in accepted and key not in TRAINING_KEYS:
                raise RecipeError(
                    f"search.space.{key}: neither a training setting ({', '.join(TRAINING_KEYS)})"
                    f" nor a parameter of the model {self.params.model!r}"
                )
        if self.params.augment_shift and self._image_shape(None) is None:
            raise RecipeError(
                "trainable.augment_shift: needs images: model 'cnn' or model_params.image_shape"
            )
        if self.params.pretrained:
            load_state(self.params.pretrained)
        probe = TorchTarget(model=nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.0)))
        for regularizer in regularizers:
            regularizer.check(probe)

    def differentiable(self, regularizers: Sequence[Regularizer]) -> dict[str, str]:
        """Space keys the ``hypergradient`` strategy can follow: the regularizers' weight decay
        and dropout rate (see ``torch_bilevel``), and the learning rate."""
        roles = differentiable_keys(regularizers)
        return {**{k: f"{role} ({self.params.l2_per})" for k, role in roles.items()}, "lr": "lr"}

    def _tensors(self, ctx: TrialContext, standardize: bool) -> tuple[torch.Tensor, ...]:
        if ctx.data is None or not ctx.splits:
            raise RecipeError("data: the torch trainable needs a data section with a loader")
        X = torch.tensor(np.asarray(ctx.data.X, dtype=np.float32))  # a copy: shared data is
        y = torch.tensor(np.asarray(ctx.data.y, dtype=np.int64))  # read-only in the object store
        split = ctx.splits[0]
        train, valid = torch.tensor(split.train), torch.tensor(split.valid)
        if standardize:
            mean, std = X[train].mean(0), X[train].std(0).clamp_min(1e-6)
            X = (X - mean) / std
        return X, y, train, valid

    def _model(self, ctx: TrialContext, X: torch.Tensor, y: torch.Tensor) -> nn.Module:
        model_kwargs = {
            **self.params.model_params,
            **{k: v for k, v in ctx.hyperparameters.items() if k not in TRAINING_KEYS},
        }
        model: nn.Module = self._factory()(X.shape[1], int(y.max()) + 1, **model_kwargs)
        return model

    def _image_shape(self, model: nn.Module | None) -> tuple[int, int, int] | None:
        shape = getattr(model, "image_shape", None) or self.params.model_params.get("image_shape")
        if shape is None and self.params.model == "cnn":
            shape = inspect.signature(BUILT_IN["cnn"]).parameters["image_shape"].default
        return tuple(shape) if shape is not None else None

    def bilevel(self, ctx: TrialContext, names: Sequence[str]) -> BilevelProblem:
        """Full-batch training as a differentiable problem in the followed keys."""
        torch.manual_seed(ctx.seed or 0)
        X, y, train, valid = self._tensors(ctx, self.params.standardize)
        model = self._model(ctx, X, y)
        roles = {k: r for k, r in differentiable_keys(ctx.regularizers).items() if k in names}
        lr = float(ctx.config.get("lr", self.params.lr))
        per = self.params.l2_per
        return torch_problem(model, (X, y, train, valid), roles, per, lr, ctx.seed or 0)

    def run(self, ctx: TrialContext) -> None:
        settings = self.params.model_copy(
            update={k: v for k, v in ctx.config.items() if k in TRAINING_KEYS}
        )
        torch.manual_seed(ctx.seed or 0)
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        amp = settings.amp and device.type == "cuda"
        X, y, train, valid = self._tensors(ctx, settings.standardize)
        model = self._model(ctx, X, y)
        if self.params.pretrained:
            state = load_state(self.params.pretrained)
            kept = {k: v for k, v in state.items() if not _matches(k, self.params.reinit)}
            transfer(model, kept, self.params.freeze)
        target = ctx.regularize(TorchTarget(model=model))
        model.to(device)
        optimizer = _optimizer(settings, model, target.weight_decay)
        state = ctx.restored or {}
        first = int(state.get("epoch", 0)) + 1
        if state:
            model.load_state_dict(state["model"])
            settings_now = [
                {k: v for k, v in g.items() if k != "params"} for g in optimizer.param_groups
            ]
            optimizer.load_state_dict(state["optimizer"])
            for group, now in zip(optimizer.param_groups, settings_now, strict=True):
                group.update(now)  # this trial's lr and decay: PBT may have changed them
        watch = _Plateau(target, ctx.metric)
        generator = torch.Generator().manual_seed(ctx.seed or 0)
        shape = self._image_shape(model)
        for epoch in range(first, settings.epochs + 1):
            started = time.perf_counter()
            order = train[torch.randperm(len(train), generator=generator)]
            train_loss = 0.0
            model.train()
            for batch in order.split(settings.batch_size):
                xb, yb = X[batch], y[batch].to(device)
                if settings.augment_shift and shape is not None:
                    xb = shift_images(xb, shape, settings.augment_shift, generator)
                xb = xb.to(device)
                with torch.autocast(device.type, torch.bfloat16, enabled=amp):
                    loss = nn.functional.cross_entropy(model(xb), yb) + target.penalty()
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                train_loss += float(loss.detach()) * len(batch)
            metrics = {**_evaluate(model, X[valid], y[valid], device), "epoch": epoch}
            metrics["train_loss"] = train_loss / len(train)
            metrics["epoch_seconds"] = time.perf_counter() - started
            if state:
                metrics["resumed_from_epoch"] = first - 1
            reason = watch.update(metrics[ctx.metric], epoch)
            last = epoch == settings.epochs or reason is not None
            save = last or epoch % settings.checkpoint_every == 0
            if reason:
                metrics["stopped_reason"] = reason
            ctx.report(metrics, state=_state(model, optimizer, epoch) if save else None)
            if reason:
                break
        if self.params.save_model:
            save_state(model, self.params.save_model)


def load_state(where: str) -> dict[str, torch.Tensor]:
    """A state dict from a local path or any URI pyarrow.fs understands."""
    filesystem, path = pafs.FileSystem.from_uri(where) if "://" in where else (None, where)
    try:
        if filesystem is None:
            return dict(torch.load(path, map_location="cpu", weights_only=True))
        with filesystem.open_input_stream(path) as f:
            return dict(torch.load(io.BytesIO(f.read()), map_location="cpu", weights_only=True))
    except (OSError, RuntimeError) as exc:
        raise RecipeError(f"trainable.pretrained: cannot load {where}: {exc}") from None


def save_state(model: nn.Module, where: str) -> None:
    buffer = io.BytesIO()
    torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, buffer)
    if "://" in where:
        filesystem, path = pafs.FileSystem.from_uri(where)
        with filesystem.open_output_stream(path) as out:
            out.write(buffer.getvalue())
        return
    Path(where).parent.mkdir(parents=True, exist_ok=True)
    Path(where).write_bytes(buffer.getvalue())


def transfer(model: nn.Module, state: dict[str, torch.Tensor], freeze: Sequence[str]) -> None:
    """Copy the pretrained tensors whose name and shape match (a new head stays fresh), and
    freeze the parameters matching ``freeze``."""
    own = model.state_dict()
    matching = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    if not matching:
        raise RecipeError("trainable.pretrained: no tensor matches the model by name and shape")
    model.load_state_dict(matching, strict=False)
    for name, parameter in model.named_parameters():
        if _matches(name, freeze):
            parameter.requires_grad_(False)


def _matches(name: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatch(name, pattern) for pattern in patterns)


def _optimizer(settings: TorchParams, model: nn.Module, weight_decay: float) -> Any:
    params = [p for p in model.parameters() if p.requires_grad]
    if settings.optimizer == "sgd":
        return torch.optim.SGD(
            params, lr=settings.lr, momentum=settings.momentum, weight_decay=weight_decay
        )
    cls = torch.optim.AdamW if settings.optimizer == "adamw" else torch.optim.Adam
    return cls(params, lr=settings.lr, weight_decay=weight_decay)


@torch.no_grad()
def _evaluate(model: nn.Module, X: torch.Tensor, y: torch.Tensor, device: Any) -> dict[str, float]:
    model.eval()
    logits = model(X.to(device))
    target = y.to(device)
    return {
        "accuracy": float((logits.argmax(1) == target).float().mean()),
        "loss": float(nn.functional.cross_entropy(logits, target)),
    }


def _state(model: nn.Module, optimizer: Any, epoch: int) -> dict[str, Any]:
    weights = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    return {"epoch": epoch, "model": weights, "optimizer": optimizer.state_dict()}


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
