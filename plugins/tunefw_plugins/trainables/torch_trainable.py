"""``torch``: train a torch classifier, reporting validation accuracy and loss every epoch.

The model is a built-in (``mlp``, ``cnn``) or any ``module:factory`` called with
``(n_features, n_classes, **model_params)``. Hyperparameters in the space override the
params of the same name (``lr``, ``batch_size``, ``epochs``, ``momentum``) or are passed to
the model (``hidden``, ``layers``, ``channels``...). The trial trains on the validation
strategy's first split, on CUDA when Ray gave it a GPU, seeded by the trial's seed. It
checkpoints every ``checkpoint_every`` epochs, or when ``ctx.checkpoint_due()`` (every epoch
under a scheduler that pauses trials, else every 30 s), and at the last, so a retried or
resumed trial goes on from there.
"""

from __future__ import annotations

import fnmatch
import functools
import inspect
import io
import os
import time
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from pyarrow import fs as pafs
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from tunefw.errors import RecipeError, describe, printable
from tunefw.plugin_api.bilevel_problem import BilevelProblem
from tunefw.plugin_api.capabilities import (
    Differentiable,
    ReportsEpochs,
    Resumable,
    StartsWorkers,
)
from tunefw.plugin_api.context import TrialContext
from tunefw.plugin_api.imports import import_callable
from tunefw.plugin_api.protocols import Regularizer
from tunefw.plugin_api.torch_target import TorchTarget
from tunefw.recipe.numbers import FiniteFloat, Int
from tunefw.recipe.objective import check_reported
from tunefw.recipe.space import ParamSpec
from tunefw_plugins.trainables.epoch_checkpoints import CheckpointEvery
from tunefw_plugins.trainables.torch_bilevel import differentiable_keys, torch_problem
from tunefw_plugins.trainables.torch_data_parallel import DataParallelJob, train_data_parallel
from tunefw_plugins.trainables.torch_loop import EpochReports, Epochs, make_optimizer
from tunefw_plugins.trainables.torch_models import BUILT_IN

METRICS = ("accuracy", "loss", "train_loss", "epoch_seconds")
TRAINING_KEYS = ("lr", "batch_size", "epochs", "momentum")


class TorchParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str = Field("mlp", description="'mlp', 'cnn', or an import path 'module:factory'.")
    model_params: dict[str, Any] = Field(default_factory=dict)
    optimizer: Literal["adam", "adamw", "sgd"] = "adam"
    lr: FiniteFloat = Field(1e-3, gt=0)
    momentum: FiniteFloat = Field(0.9, ge=0, lt=1, description="For sgd.")
    batch_size: Int = Field(64, ge=1)
    epochs: Int = Field(10, ge=1)
    checkpoint_every: CheckpointEvery = None
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
    augment_shift: Int = Field(
        0,
        ge=0,
        description="Shift each training image by up to N pixels at random (image models).",
    )
    data_parallel: Int = Field(
        1,
        ge=1,
        description="Workers that train each trial together: DDP through Ray Train's "
        "TorchTrainer. 1 trains in the trial's own process.",
    )
    worker_resources: dict[str, float] = Field(
        default_factory=lambda: {"CPU": 1.0},
        description="What each data-parallel worker holds, e.g. {CPU: 4, GPU: 1}.",
    )
    save_model: str | None = Field(
        None, description="Write the trained state dict here (path or URI), for later transfer."
    )
    l2_per: Literal["global", "layer", "tensor"] = Field(
        "global",
        description="Hypergradient search: one weight decay, one per layer, or one per tensor.",
    )


class TorchTrainable(Resumable, Differentiable, ReportsEpochs, StartsWorkers):
    Params = TorchParams
    workers_field = "trainable.worker_resources"

    def __init__(self, params: TorchParams) -> None:
        self.params = params

    def epochs(self, space: Mapping[str, ParamSpec]) -> int | None:
        return None if "epochs" in space else self.params.epochs

    def worker_bundles(self) -> list[dict[str, float]]:
        held = {name: amount for name, amount in self.params.worker_resources.items() if amount}
        workers = self.params.data_parallel
        return [held] * workers if workers > 1 else []

    def _factory(self) -> Any:
        name = self.params.model
        return BUILT_IN.get(name) or import_callable(name, "trainable.model")

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
        X, y, train, valid = self._tensors(ctx, settings.standardize)
        model = self._model(ctx, X, y)
        if self.params.pretrained:
            state = load_state(self.params.pretrained)
            kept = {k: v for k, v in state.items() if not _matches(k, self.params.reinit)}
            transfer(model, kept, self.params.freeze)
        target = ctx.regularize(TorchTarget(model=model))
        restored = ctx.restored or None
        first = int(restored["epoch"]) + 1 if restored else 1
        reports = EpochReports(ctx, target, settings.epochs, settings.checkpoint_every, first)
        shape = self._image_shape(model)
        if settings.data_parallel > 1:
            job = DataParallelJob(
                model, target, X, y, train, valid, settings.model_dump(), shape, restored,
                first, ctx.seed or 0,
            )  # fmt: skip
            final = train_data_parallel(
                job, settings.data_parallel, settings.worker_resources, reports.report
            )
            if final is not None:
                model.load_state_dict(final["model"])
        else:
            self._train_here(settings, model, target, (X, y, train, valid), restored, reports)
        if self.params.save_model:
            save_state(model, self.params.save_model)

    def _train_here(
        self,
        settings: TorchParams,
        model: nn.Module,
        target: TorchTarget,
        tensors: tuple[torch.Tensor, ...],
        restored: dict[str, Any] | None,
        reports: EpochReports,
    ) -> None:
        """Train in this process, on CUDA when Ray gave the trial a GPU."""
        X, y, train, valid = tensors
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        model.to(device)
        optimizer = make_optimizer(
            settings.optimizer, model, settings.lr, settings.momentum, target.weight_decay
        )
        epochs = Epochs(
            model=model,
            target=target,
            optimizer=optimizer,
            X=X,
            y=y,
            device=device,
            batch_size=settings.batch_size,
            amp=settings.amp and device.type == "cuda",
            augment_shift=settings.augment_shift,
            image_shape=self._image_shape(model),
        )
        if restored:
            epochs.restore(restored)
        generator = torch.Generator().manual_seed(reports.ctx.seed or 0)
        for epoch in range(reports.first, settings.epochs + 1):
            started = time.perf_counter()
            loss = epochs.train(train[torch.randperm(len(train), generator=generator)], generator)
            metrics = {
                **epochs.evaluate(valid),
                "train_loss": loss / len(train),
                "epoch_seconds": time.perf_counter() - started,
            }
            if reports.report(metrics, epoch, functools.partial(epochs.state, epoch)):
                break


def load_state(where: str) -> dict[str, torch.Tensor]:
    """A state dict from a local path or any URI pyarrow.fs understands; a file that holds no
    state dict (garbage, empty, other objects) is one line naming ``trainable.pretrained``."""
    refused = f"trainable.pretrained: cannot load {where}"
    try:
        source, size = _open_state(where)
    except (OSError, ValueError) as exc:  # pyarrow.fs refuses a bad URI with a ValueError
        raise RecipeError(f"{refused}: {describe(exc)}") from None
    if size == 0:
        raise RecipeError(f"{refused}: the file is empty")
    try:
        with warnings.catch_warnings():  # the weights-only unpickler warns of foreign pickles
            warnings.simplefilter("ignore")
            state = torch.load(source, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch.load of foreign bytes raises anything, EOFError to KeyError
        raise RecipeError(
            f"{refused}: not a file torch.save wrote holding only tensors ({type(exc).__name__})"
        ) from None
    if not isinstance(state, Mapping):
        raise RecipeError(
            f"{refused}: it holds a {type(state).__name__}, not a state dict "
            "(tensors by parameter name)"
        )
    for name, value in state.items():
        if not isinstance(value, torch.Tensor):
            raise RecipeError(
                f"{refused}: its entry {printable(repr(name))} is a {type(value).__name__}, "
                "not a tensor"
            )
    if not state:
        raise RecipeError(f"{refused}: it holds no tensors")
    return dict(state)


def _open_state(where: str) -> tuple[str | io.BytesIO, int]:
    """What ``torch.load`` reads (a local path as it is, not copied), and its size."""
    if "://" not in where:
        with open(where, "rb") as f:  # a missing file or a directory fails here, by name
            return where, os.fstat(f.fileno()).st_size
    filesystem, path = pafs.FileSystem.from_uri(where)
    with filesystem.open_input_stream(path) as f:
        data = f.read()
    return io.BytesIO(data), len(data)


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
        raise RecipeError(
            "trainable.pretrained: no tensor matches the model by name and shape "
            f"({_first_mismatch(own, state)})"
        )
    model.load_state_dict(matching, strict=False)
    for name, parameter in model.named_parameters():
        if _matches(name, freeze):
            parameter.requires_grad_(False)


def _first_mismatch(own: Mapping[str, torch.Tensor], state: Mapping[str, torch.Tensor]) -> str:
    """What tells the file from the model, shown on one line: a shape, or the names."""
    for name, tensor in state.items():
        if name in own:
            model_shape, file_shape = list(own[name].shape), list(tensor.shape)
            return f"{printable(name)}: the model's is {model_shape}, the file's {file_shape}"
    if not state:
        return "every tensor of the file is in trainable.reinit"
    names = ", ".join(printable(name) for name in list(own)[:3]) or "none"
    return f"no name in common: the file has {printable(next(iter(state)))}..., the model {names}"


def _matches(name: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatch(name, pattern) for pattern in patterns)
