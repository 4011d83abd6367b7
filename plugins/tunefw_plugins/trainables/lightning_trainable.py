"""``lightning``: a user's LightningModule trained by Lightning's own ``Trainer``.

The module and its DataModule are import paths (a class or a factory); each hyperparameter of
the space goes to whichever of them takes a parameter of that name (the module first), or to
the ``Trainer`` (``max_epochs``, ``gradient_clip_val``, ``accumulate_grad_batches``). After
every training epoch, the metrics the module logged (``self.log("val_loss", ...)``) are
reported to tunefw, so ASHA can stop a weak trial there. Checkpoints are Lightning's own
(``Trainer.save_checkpoint``), taken as the torch trainable takes them (every epoch under a
scheduler that pauses trials, else every 30 s, and the last); a retried or resumed trial goes
on with ``Trainer.fit(ckpt_path=...)``.
"""

from __future__ import annotations

import inspect
import logging
import tempfile
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from tunefw.errors import PluginError, RecipeError
from tunefw.plugin_api.capabilities import ReportsEpochs, Resumable
from tunefw.plugin_api.context import TrialContext
from tunefw.plugin_api.imports import import_callable
from tunefw.plugin_api.protocols import Regularizer
from tunefw.recipe.numbers import Int
from tunefw.recipe.objective import check_reported
from tunefw.recipe.space import ParamSpec
from tunefw_plugins.trainables.epoch_checkpoints import CheckpointEvery, checkpoint_wanted

INSTALL = "pip install 'tunefw[lightning]'"
TRAINER_KEYS = ("max_epochs", "gradient_clip_val", "accumulate_grad_batches")
QUIET_TRAINER = {
    "enable_progress_bar": False,
    "enable_model_summary": False,
    "logger": False,
    "enable_checkpointing": False,  # tunefw checkpoints, into the trial's storage
    "num_sanity_val_steps": 0,
}


class LightningParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    module: str = Field(description="Import path 'module:LightningModule' (or a factory).")
    datamodule: str = Field(description="Import path 'module:LightningDataModule' (or a factory).")
    module_params: dict[str, Any] = Field(default_factory=dict)
    datamodule_params: dict[str, Any] = Field(default_factory=dict)
    max_epochs: Int = Field(10, ge=1)
    trainer: dict[str, Any] = Field(
        default_factory=dict,
        description="More Trainer arguments, e.g. {precision: bf16-mixed}. Progress bars, "
        "Lightning's loggers and its checkpoint callback are off unless given here.",
    )
    checkpoint_every: CheckpointEvery = None
    metrics: list[str] | None = Field(
        None,
        description="The metrics the module logs, so a wrong objective fails before running.",
    )


class LightningTrainable(Resumable, ReportsEpochs):
    Params = LightningParams

    def __init__(self, params: LightningParams) -> None:
        self.params = params

    def epochs(self, space: Mapping[str, ParamSpec]) -> int | None:
        return None if "max_epochs" in space else self.params.max_epochs

    def check(
        self,
        space: Mapping[str, ParamSpec],
        metrics: Mapping[str, str],
        regularizers: Sequence[Regularizer],
    ) -> None:
        lightning()
        if regularizers:
            raise RecipeError(
                "regularization: the lightning trainable takes no regularizer plugins: put "
                "weight decay or dropout in the module, tuned through the space"
            )
        module = import_callable(self.params.module, "trainable.module")
        datamodule = import_callable(self.params.datamodule, "trainable.datamodule")
        for key in space:
            if _takes(module, key) or _takes(datamodule, key) or key in TRAINER_KEYS:
                continue
            raise RecipeError(
                f"search.space.{key}: a parameter of neither {self.params.module} nor "
                f"{self.params.datamodule}, nor a Trainer setting ({', '.join(TRAINER_KEYS)})"
            )
        if self.params.metrics is not None:
            listed = f"trainable.metrics: {', '.join(self.params.metrics)}"
            check_reported(metrics, self.params.metrics.__contains__, "the module", listed)

    def run(self, ctx: TrialContext) -> None:
        pl = lightning()
        module_cls = import_callable(self.params.module, "trainable.module")
        datamodule_cls = import_callable(self.params.datamodule, "trainable.datamodule")
        config = dict(ctx.config)
        to_module = {k: v for k, v in config.items() if _takes(module_cls, k)}
        to_data = {
            k: v for k, v in config.items() if k not in to_module and _takes(datamodule_cls, k)
        }
        settings = {k: v for k, v in config.items() if k in TRAINER_KEYS}
        max_epochs = int(settings.pop("max_epochs", self.params.max_epochs))
        pl.seed_everything(ctx.seed or 0, workers=True, verbose=False)
        module = module_cls(**{**self.params.module_params, **to_module})
        data = datamodule_cls(**{**self.params.datamodule_params, **to_data})
        with tempfile.TemporaryDirectory(prefix="tunefw-lightning-") as scratch, _quiet():
            reports = LightningReports(ctx, max_epochs, self.params.checkpoint_every, Path(scratch))
            trainer = pl.Trainer(
                **{**QUIET_TRAINER, **self.params.trainer, **settings},
                max_epochs=max_epochs,
                callbacks=[reports.callback(pl)],
                default_root_dir=scratch,
            )
            trainer.fit(module, datamodule=data, ckpt_path=reports.restored_path())


class LightningReports:
    """What the trial's Lightning callback does each epoch: report the logged metrics to
    tunefw, with Lightning's checkpoint when one is due."""

    def __init__(self, ctx: TrialContext, max_epochs: int, every: int | None, scratch: Path):
        self.ctx = ctx
        self.max_epochs = max_epochs
        self.every = every
        self.scratch = scratch
        self.first = int(ctx.restored["epoch"]) + 1 if ctx.restored else 1

    def restored_path(self) -> str | None:
        """The restored checkpoint as a file for ``Trainer.fit(ckpt_path=...)``, if any."""
        if not self.ctx.restored:
            return None
        path = self.scratch / "restored.ckpt"
        path.write_bytes(self.ctx.restored["lightning"])
        return str(path)

    def report(self, trainer: Any) -> None:
        epoch = int(trainer.current_epoch) + 1
        metrics: dict[str, Any] = {"epoch": epoch}
        for name, value in trainer.callback_metrics.items():
            if getattr(value, "numel", lambda: 1)() == 1:
                metrics[name] = float(value)
        if self.first > 1:
            metrics["resumed_from_epoch"] = self.first - 1
        wanted = checkpoint_wanted(self.ctx, self.every, epoch, self.max_epochs)
        state = self._checkpoint(trainer, epoch) if wanted else None
        self.ctx.report(metrics, state=state)

    def _checkpoint(self, trainer: Any, epoch: int) -> dict[str, Any]:
        path = self.scratch / f"epoch-{epoch}.ckpt"
        trainer.save_checkpoint(path)
        state = {"epoch": epoch, "lightning": path.read_bytes()}
        path.unlink()
        return state

    def callback(self, pl: Any) -> Any:
        reports = self

        class ReportToTunefw(pl.Callback):  # type: ignore[misc,name-defined]
            def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
                reports.report(trainer)

        return ReportToTunefw()


def lightning() -> Any:
    """``lightning.pytorch``; a one-line ``PluginError`` with the pip command if missing."""
    try:
        import lightning.pytorch as pl
    except ImportError:
        raise PluginError(
            f"trainable.kind: lightning needs the lightning package: {INSTALL}"
        ) from None
    return pl


def _takes(factory: Any, name: str) -> bool:
    """Whether calling ``factory`` takes an argument ``name`` (a class: its ``__init__``)."""
    try:
        parameters = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return False
    kinds = {p.kind for p in parameters.values()}
    return name in parameters or inspect.Parameter.VAR_KEYWORD in kinds


@contextmanager
def _quiet() -> Iterator[None]:
    """Lightning's start-up lines (devices, precision), its warning that a 1-CPU trial's
    data loaders have few workers, and deprecations inside Lightning itself are noise in every
    trial's log."""
    logger = logging.getLogger("lightning.pytorch")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", ".*does not have many workers.*")
            warnings.filterwarnings("ignore", category=DeprecationWarning, module="lightning")
            yield
    finally:
        logger.setLevel(level)
