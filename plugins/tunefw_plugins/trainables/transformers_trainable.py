"""``transformers``: a Hugging Face sequence classifier trained by its own ``Trainer``.

The model is built from a config (``AutoConfig.for_model(model_type, ...)``, no weights
downloaded) and the tokenizer is trained on the trial's training texts with ``tokenizers``
(WordPiece), so a recipe runs offline. The data is raw text (the ``load_texts`` loader). Each
hyperparameter of the space is a ``TrainingArguments`` field (``learning_rate``,
``weight_decay``, ``per_device_train_batch_size``...) or a field of the model's config
(``hidden_size``, ``num_hidden_layers``, ``hidden_dropout_prob``...). Every evaluation (one
per epoch) is reported, so ASHA stops weak trials there. Checkpoints are the Trainer's own
(``checkpoint-N`` folders), taken as the torch trainable takes them, and a retried or resumed
trial goes on with ``Trainer.train(resume_from_checkpoint=...)``.
"""

from __future__ import annotations

import dataclasses
import io
import tarfile
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from tunefw.errors import PluginError, RecipeError
from tunefw.plugin_api.capabilities import ReportsEpochs, Resumable
from tunefw.plugin_api.context import TrialContext
from tunefw.plugin_api.protocols import Regularizer
from tunefw.recipe.numbers import Int
from tunefw.recipe.objective import check_reported
from tunefw.recipe.space import ParamSpec
from tunefw_plugins.trainables.epoch_checkpoints import CheckpointEvery, checkpoint_wanted

INSTALL = "pip install 'tunefw[transformers]'"
METRICS = ("accuracy", "loss", "epoch")
SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]
QUIET_ARGS = {
    "report_to": "none",
    "disable_tqdm": True,
    "logging_strategy": "no",
    "save_total_limit": 1,
}


class TransformersParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model_type: str = Field("bert", description="A model type AutoConfig knows: bert, ...")
    model_params: dict[str, Any] = Field(
        default_factory=lambda: {
            "hidden_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "intermediate_size": 128,
        },
        description="Fields of the model's config; the vocabulary and labels come from the data.",
    )
    vocab_size: Int = Field(2000, ge=len(SPECIAL) + 1, description="The tokenizer's vocabulary.")
    max_length: Int = Field(32, ge=2, description="Tokens per text, [CLS] and [SEP] included.")
    epochs: Int = Field(5, ge=1)
    training: dict[str, Any] = Field(
        default_factory=dict,
        description="More TrainingArguments fields, e.g. {learning_rate: 1.0e-3}.",
    )
    checkpoint_every: CheckpointEvery = None


class TransformersTrainable(Resumable, ReportsEpochs):
    Params = TransformersParams

    def __init__(self, params: TransformersParams) -> None:
        self.params = params

    def epochs(self, space: Mapping[str, ParamSpec]) -> int | None:
        return None if "num_train_epochs" in space else self.params.epochs

    def check(
        self,
        space: Mapping[str, ParamSpec],
        metrics: Mapping[str, str],
        regularizers: Sequence[Regularizer],
    ) -> None:
        hf = transformers()
        check_reported(
            metrics, METRICS.__contains__, "the transformers trainable", ", ".join(METRICS)
        )
        if regularizers:
            raise RecipeError(
                "regularization: the transformers trainable takes no regularizer plugins: "
                "tune weight_decay or hidden_dropout_prob through the space"
            )
        try:
            config = hf.AutoConfig.for_model(self.params.model_type)
        except ValueError:
            raise RecipeError(
                f"trainable.model_type: transformers knows no model type {self.params.model_type!r}"
            ) from None
        arguments = {f.name for f in dataclasses.fields(hf.TrainingArguments)}
        for key in [*space, *self.params.model_params]:
            where = "search.space" if key in space else "trainable.model_params"
            if key not in arguments and not hasattr(config, key):
                raise RecipeError(
                    f"{where}.{key}: neither a TrainingArguments field nor a field of "
                    f"{type(config).__name__}"
                )

    def run(self, ctx: TrialContext) -> None:
        hf = transformers()
        if ctx.data is None or not ctx.splits:
            raise RecipeError("data: the transformers trainable needs a data section with texts")
        texts = np.asarray(ctx.data.X, dtype=str)
        labels = np.asarray(ctx.data.y, dtype=np.int64)
        split = ctx.splits[0]
        tokenizer = train_tokenizer(
            texts[split.train], self.params.vocab_size, self.params.max_length
        )
        fields = {f.name for f in dataclasses.fields(hf.TrainingArguments)}
        config_values = {k: v for k, v in ctx.config.items() if k not in fields}
        argument_values = {k: v for k, v in ctx.config.items() if k in fields}
        config = hf.AutoConfig.for_model(
            self.params.model_type,
            **{**self.params.model_params, **config_values},
            vocab_size=tokenizer.get_vocab_size(),
            num_labels=int(labels.max()) + 1,
            pad_token_id=0,
        )
        hf.set_seed(ctx.seed or 0)
        model = hf.AutoModelForSequenceClassification.from_config(config)
        train = encoded(tokenizer, texts[split.train], labels[split.train])
        valid = encoded(tokenizer, texts[split.valid], labels[split.valid])
        epochs = int(argument_values.pop("num_train_epochs", self.params.epochs))
        with tempfile.TemporaryDirectory(prefix="tunefw-transformers-") as scratch:
            reports = EvaluationReports(ctx, epochs, self.params.checkpoint_every, Path(scratch))
            arguments = hf.TrainingArguments(
                **{**QUIET_ARGS, **self.params.training, **argument_values},
                output_dir=scratch,
                num_train_epochs=epochs,
                eval_strategy="epoch",
                save_strategy="epoch",
                seed=ctx.seed or 0,
            )
            trainer = hf.Trainer(
                model=model,
                args=arguments,
                train_dataset=train,
                eval_dataset=valid,
                compute_metrics=accuracy,
                callbacks=[reports.callback(hf)],
            )
            trainer.remove_callback(hf.PrinterCallback)  # each evaluation printed: noise
            trainer.train(resume_from_checkpoint=reports.restored_path())


class EvaluationReports:
    """What the trial's Trainer callback does: report each evaluation to tunefw, with the
    Trainer's checkpoint of that epoch when one is due (it saves only then)."""

    def __init__(self, ctx: TrialContext, epochs: int, every: int | None, scratch: Path):
        self.ctx = ctx
        self.epochs = epochs
        self.every = every
        self.scratch = scratch
        self.first = int(ctx.restored["epoch"]) + 1 if ctx.restored else 1
        self._metrics: dict[str, Any] = {}

    def restored_path(self) -> str | None:
        """The restored ``checkpoint-N`` folder, unpacked, for ``resume_from_checkpoint``."""
        if not self.ctx.restored:
            return None
        with tarfile.open(fileobj=io.BytesIO(self.ctx.restored["checkpoint"])) as archive:
            archive.extractall(self.scratch / "restored", filter="data")
        [folder] = (self.scratch / "restored").iterdir()
        return str(folder)

    def evaluated(self, epoch: int, metrics: Mapping[str, Any]) -> bool:
        """Keep an evaluation's metrics; whether its epoch is to be checkpointed."""
        self._metrics = {k.removeprefix("eval_"): float(v) for k, v in metrics.items()}
        self._metrics["epoch"] = epoch
        if self.first > 1:
            self._metrics["resumed_from_epoch"] = self.first - 1
        return checkpoint_wanted(self.ctx, self.every, epoch, self.epochs)

    def report(self, checkpoint: Path | None) -> None:
        state = None
        if checkpoint is not None:
            packed = io.BytesIO()
            with tarfile.open(fileobj=packed, mode="w") as archive:
                archive.add(checkpoint, arcname=checkpoint.name)
            state = {"epoch": self._metrics["epoch"], "checkpoint": packed.getvalue()}
        self.ctx.report(self._metrics, state=state)

    def callback(self, hf: Any) -> Any:
        reports = self

        class ReportToTunefw(hf.TrainerCallback):  # type: ignore[misc,name-defined]
            def on_evaluate(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
                epoch = round(state.epoch)
                control.should_save = reports.evaluated(epoch, kwargs["metrics"])
                if not control.should_save:
                    reports.report(None)

            def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
                reports.report(Path(args.output_dir) / f"checkpoint-{state.global_step}")

        return ReportToTunefw()


def train_tokenizer(texts: Sequence[str], vocab_size: int, max_length: int) -> Any:
    """A WordPiece tokenizer trained on ``texts``, padding and truncating to ``max_length``."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers

    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=SPECIAL)
    tokenizer.train_from_iterator(list(texts), trainer)
    cls, sep = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", cls), ("[SEP]", sep)]
    )
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]", length=max_length)
    tokenizer.enable_truncation(max_length=max_length)
    return tokenizer


def encoded(tokenizer: Any, texts: Sequence[str], labels: np.ndarray) -> list[dict[str, Any]]:
    """Each text as the Trainer's model inputs, with its label."""
    import torch

    return [
        {
            "input_ids": torch.tensor(e.ids),
            "attention_mask": torch.tensor(e.attention_mask),
            "labels": torch.tensor(int(label)),
        }
        for e, label in zip(tokenizer.encode_batch(list(texts)), labels, strict=True)
    ]


def accuracy(prediction: Any) -> dict[str, float]:
    logits, labels = prediction.predictions, prediction.label_ids
    return {"accuracy": float((np.argmax(logits, axis=-1) == labels).mean())}


def transformers() -> Any:
    """The ``transformers`` package; a one-line ``PluginError`` with the pip command if it,
    ``tokenizers`` or ``accelerate`` (which its Trainer needs) is missing."""
    try:
        import accelerate  # noqa: F401
        import tokenizers  # noqa: F401
        import transformers as hf
    except ImportError:
        raise PluginError(
            "trainable.kind: transformers needs the transformers, tokenizers and accelerate "
            f"packages: {INSTALL}"
        ) from None
    return hf
