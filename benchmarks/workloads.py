"""Trainables shared by the benchmarks: the same work for tunefw and for raw Ray Tune."""

from __future__ import annotations

from typing import Any

from ray import tune


def loss_at(config: dict[str, Any], step: int) -> dict[str, float]:
    """A cheap closed-form learning curve."""
    return {"loss": (config["x"] - 0.3) ** 2 + 1.0 / step, "acc": 1.0 - config["x"] / step}


def raw_reports(config: dict[str, Any]) -> None:
    """Raw Ray Tune: ``config["reports"]`` results straight to ``tune.report``."""
    for step in range(1, config["reports"] + 1):
        tune.report(loss_at(config, step))


def tunefw_reports(config: dict[str, Any], ctx: Any) -> None:
    """tunefw's ``function`` trainable doing the same."""
    for step in range(1, config["reports"] + 1):
        ctx.report(loss_at(config, step))


def digits_cnn_recipe(name: str, epochs: int, search: dict[str, Any]) -> dict[str, Any]:
    """A recipe for tunefw's built-in CNN on standardized 8x8 digits (a stratified 20 %
    holdout, batch 64), searching ``search``; add the rest (scheduler, stop) to it."""
    return {
        "name": name,
        "trainable": {
            "kind": "torch",
            "model": "cnn",
            "model_params": {"image_shape": [1, 8, 8]},
            "epochs": epochs,
            "batch_size": 64,
            "standardize": True,
        },
        "data": {"loader": "sklearn.datasets:load_digits"},
        "objective": {"metric": "accuracy", "mode": "max"},
        "search": search,
        "validation": {"strategy": "holdout", "fraction": 0.2, "stratify": True},
    }
