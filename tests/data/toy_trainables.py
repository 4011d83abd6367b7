"""Small user functions for the ``function`` trainable, imported by tests' recipes."""

from __future__ import annotations

from typing import Any


def quadratic(config: dict[str, Any], ctx: Any) -> None:
    """A closed-form loss reported over a few steps; best at x = 0.3."""
    for step in range(1, 4):
        ctx.report({"loss": (config["x"] - 0.3) ** 2 + 1.0 / step, "step": step})


def fails_above(config: dict[str, Any], ctx: Any) -> None:
    """Raises for x > 0.5, after one report: the trial errors, the experiment goes on."""
    ctx.report({"loss": config["x"]})
    if config["x"] > 0.5:
        raise RuntimeError(f"diverged at x={config['x']:.3f}")
    ctx.report({"loss": config["x"] / 2})


def returns_metrics(config: dict[str, Any], ctx: Any) -> dict[str, float]:
    """Reports once by returning its metrics, as an Optuna objective would."""
    return {"score": config["a"] * 10 + config["b"]}


def reports_wrong_metric(config: dict[str, Any], ctx: Any) -> None:
    """Reports ``acc`` although the recipe's objective asks for something else."""
    ctx.report({"acc": 1.0})


def slow(config: dict[str, Any], ctx: Any) -> None:
    """Reports every 0.2 s for a minute: long enough to be interrupted."""
    import time

    for step in range(1, 300):
        ctx.report({"loss": config["x"] / step})
        time.sleep(0.2)
