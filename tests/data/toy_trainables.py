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


def fails_first_attempt(config: dict[str, Any], ctx: Any) -> None:
    """A third of the trials raise on their first attempt, after one report."""
    from pathlib import Path

    ctx.report({"loss": config["x"]})
    marker = Path(config["marker_dir"]) / f"{config['x']:.9f}"
    if config["x"] < 0.33 and not marker.exists():
        marker.touch()
        raise RuntimeError(f"transient failure at x={config['x']:.3f}")
    ctx.report({"loss": config["x"] / 2})


def checkpointed(config: dict[str, Any], ctx: Any) -> None:
    """Checkpoints every step and writes its pid, so a test can kill its worker mid-trial."""
    import os
    import time
    from pathlib import Path

    state = ctx.restored or {"step": 0}
    (Path(config["marker_dir"]) / f"pid-{os.getpid()}").write_text(str(state["step"]))
    for step in range(state["step"] + 1, 21):
        time.sleep(0.15)
        metrics = {"loss": 1.0 / step, "restored": ctx.restored is not None}
        ctx.report(metrics, state={"step": step})


def steady(config: dict[str, Any], ctx: Any) -> None:
    """Ten reports, 0.3 s apart."""
    import time

    for step in range(1, 11):
        time.sleep(0.3)
        ctx.report({"loss": config["x"] / step})


def branin(config: dict[str, Any], ctx: Any) -> None:
    """The Branin function, reported as ``value`` once, with its category as a second metric."""
    import math

    x1, x2 = config["x1"], config["x2"]
    a, b, c, r, s, t = 1.0, 5.1 / (4 * math.pi**2), 5 / math.pi, 6.0, 10.0, 1 / (8 * math.pi)
    value = a * (x2 - b * x1**2 + c * x1 - r) ** 2 + s * (1 - t) * math.cos(x1) + s
    ctx.report({"value": value, "good": value < 5})


def resumable_curve(config: dict[str, Any], ctx: Any) -> None:
    """A learning curve ``x * (1 - 0.7 ** step)`` over 9 steps, checkpointed every step; it
    goes on from ``ctx.restored``, as schedulers that pause trials (hyperband, pbt) need."""
    state = ctx.restored or {"step": 0}
    for step in range(state["step"] + 1, 10):
        score = config["x"] * (1 - 0.7**step) - 0.1 * config.get("noise", 0.0)
        ctx.report({"score": score, "resumed": ctx.restored is not None}, state={"step": step})


def quadratic_of_a(config: dict[str, Any], ctx: Any) -> None:
    """``quadratic`` over a parameter named ``a``: another model with another space."""
    ctx.report({"loss": (config["a"] - 0.6) ** 2 + config["b"]})


def once_differentiable_mlp(n_features: int, n_classes: int) -> Any:
    """A model whose activation has no double backward: hypergradients cannot go through it."""
    import torch

    class Clipped(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
            ctx.save_for_backward(x)
            return x.clamp(min=0)

        @staticmethod
        @torch.autograd.function.once_differentiable
        def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
            (x,) = ctx.saved_tensors
            return grad * (x > 0)

    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = torch.nn.Linear(n_features, 8)
            self.b = torch.nn.Linear(8, n_classes)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.b(Clipped.apply(self.a(x)))

    return Net()


def holds_gpu(config: dict[str, Any], ctx: Any) -> None:
    """Holds its share of a GPU for ``hold_s`` seconds and reports when it did."""
    import time

    started = time.time()
    time.sleep(config["hold_s"])
    ctx.report({"loss": config["x"], "started": started, "ended": time.time()})


def survives_node_loss(config: dict[str, Any], ctx: Any) -> None:
    """``(x - 0.3)^2 + 1/step`` over ``steps`` steps ``step_s`` apart, checkpointed every step
    and going on from ``ctx.restored``; each step writes ``NODE_ID STEP`` to a file named by
    ``x`` in ``marker_dir``, so a test sees where each trial runs and how far it got."""
    import time
    from pathlib import Path

    import ray

    state = ctx.restored or {"step": 0}
    node = ray.get_runtime_context().get_node_id()
    for step in range(state["step"] + 1, config["steps"] + 1):
        time.sleep(config["step_s"])
        metrics = {"loss": (config["x"] - 0.3) ** 2 + 1.0 / step, "restored_from": state["step"]}
        ctx.report(metrics, state={"step": step})
        partial = Path(config["marker_dir"]) / f".{config['x']}.partial"
        partial.write_text(f"{node} {step}")
        partial.replace(partial.with_name(str(config["x"])))  # whole, for a reader polling it


def uses_its_bundles(config: dict[str, Any], ctx: Any) -> None:
    """Runs one task in each of its placement group's worker bundles (1 CPU, 1 GPU each) and
    reports the nodes they ran on."""
    import ray
    from ray.util import get_current_placement_group
    from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

    @ray.remote(num_cpus=1, num_gpus=1)
    def where() -> str:
        return str(ray.get_runtime_context().get_node_id())

    group = get_current_placement_group()
    tasks = [
        where.options(
            scheduling_strategy=PlacementGroupSchedulingStrategy(group, bundle_index)
        ).remote()
        for bundle_index in range(1, config["workers"] + 1)
    ]
    ctx.report({"loss": 0.0, "worker_nodes": ",".join(sorted(ray.get(tasks)))})


def curve(config: dict[str, Any], ctx: Any) -> None:
    """A learning curve over ``config["steps"]`` reports, for ASHA to cut short."""
    for step in range(1, config["steps"] + 1):
        ctx.report({"loss": (config["x"] - 0.3) ** 2 + 1.0 / step})


def exits_once(config: dict[str, Any], ctx: Any) -> None:
    """The worker process dies at the first config with x > 0.5, once per marker dir."""
    import os
    from pathlib import Path

    ctx.report({"loss": config["x"]})
    marker = Path(config["marker_dir"]) / "died"
    if config["x"] > 0.5 and not marker.exists():
        marker.touch()
        os._exit(1)
    ctx.report({"loss": config["x"] / 2})


def bulky(config: dict[str, Any], ctx: Any) -> None:
    """Twenty reports, each carrying 16 KB of incompressible text: fills a small disk."""
    import os
    import time

    for step in range(1, 21):
        time.sleep(0.05)
        ctx.report({"loss": config["x"] / step, "blob": os.urandom(8192).hex()})


def sized_quadratic(config: dict[str, Any], ctx: Any) -> None:
    """``quadratic`` with a model ``width`` (an ordered choice) reported as its ``size``."""
    for step in range(1, 4):
        loss = (config["x"] - 0.3) ** 2 + abs(config["width"] - 32) / 64 + 1.0 / step
        ctx.report({"loss": loss, "size": config["width"]})


def paced_quadratic(config: dict[str, Any], ctx: Any) -> None:
    """``(x - 0.3) ** 2``, reported once after 0.4 s: a driver can be killed between trials."""
    import time

    time.sleep(0.4)
    ctx.report({"loss": (config["x"] - 0.3) ** 2})


def two_costs(config: dict[str, Any], ctx: Any) -> None:
    """Two costs to minimise, reported over 9 steps: ``k`` 0 and 1 are the Pareto front
    ((0.2, 0.8) and (0.8, 0.2)); every larger ``k`` is dominated by both, the more the larger."""
    front = {0: (0.2, 0.8), 1: (0.8, 0.2)}
    a, b = front.get(config["k"], (1.0 + 0.1 * config["k"],) * 2)
    for step in range(1, 10):
        ctx.report({"a": a + 1.0 / step, "b": b + 1.0 / step})


def finishes_before_the_other(config: dict[str, Any], ctx: Any) -> None:
    """Two trials over 9 steps, level at the first (so ASHA keeps both there, whichever
    reports first), ``x`` 1 better from its second on. Each waits (at most 60 s) for a mark
    of the other beside ``marker``, then a little more, as the driver, not the trials, sees
    the other's report: ``x`` 0 goes on once ``x`` 1 has reported its first step, and reports
    the rest at once, to a loss of 1.11, marking its end before its last step (which ends
    it); ``x`` 1 goes on once ``x`` 0 has ended and the stop rule has fired."""
    import time
    from pathlib import Path

    def wait_for(path: Path, then: float) -> None:
        waited = time.monotonic()
        while not path.exists() and time.monotonic() - waited < 60:
            time.sleep(0.05)
        time.sleep(then)

    ended = Path(config["marker"])
    first = ended.with_suffix(".first")
    for step in range(1, 10):
        if step == 2 and config["x"] == 0:
            wait_for(first, 0.5)
        elif step == 2:
            wait_for(ended, 1.0)
        if config["x"] == 0 and step == 9:
            ended.touch()
        level = 1.0 if config["x"] == 0 or step == 1 else 0.5
        ctx.report({"loss": level + 1.0 / step, "step": step})
        if config["x"] == 1 and step == 1:
            first.touch()


def imported(config: dict[str, Any], ctx: Any) -> None:
    """Reports, for IPython and Optuna, 1.0 if its worker had imported it by then, else 0.0."""
    import sys

    loaded = {name.lower(): float(name in sys.modules) for name in ("IPython", "optuna")}
    ctx.report({"loss": config["x"], **loaded})
