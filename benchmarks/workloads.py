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
