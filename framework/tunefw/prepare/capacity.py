"""Refuse a trial no node can hold, instead of waiting for it forever.

Ray Tune queues a trial whose resources no node offers and waits. On the embedded Ray nothing
will ever join, so such a recipe is refused at once; on a cluster an autoscaler may add a
node, so the check waits a bounded time for one, then says what is missing.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import ray

from tunefw.errors import RecipeError
from tunefw.plugin_api.capabilities import StartsWorkers
from tunefw.recipe.schema import Resources

CLUSTER_WAIT_S = 300.0
"""How long a cluster may take to offer a node that can hold a trial (an autoscaler's time)."""

_FIELDS = {"CPU": "cpu", "GPU": "gpu", "memory": "memory"}


def check_capacity(
    resources: Resources,
    *,
    embedded: bool,
    workers: StartedWorkers | None = None,
    wait_s: float = CLUSTER_WAIT_S,
    poll_s: float = 2.0,
) -> None:
    """Every bundle of a trial fits on some alive node (all of them on one, for STRICT_PACK),
    and so do the workers the trial starts itself, beside it."""
    deadline = time.monotonic() + (0 if embedded else wait_s)
    while True:
        nodes = _nodes()
        missing = _missing(resources, nodes) or (workers and workers.missing(resources, nodes))
        if missing is None:
            return
        if time.monotonic() >= deadline:
            where = "the embedded Ray" if embedded else f"the cluster after {wait_s:.0f} s"
            raise RecipeError(f"{missing}, which no node of {where} has")
        time.sleep(poll_s)


def _nodes() -> list[dict[str, float]]:
    alive = [node for node in ray.nodes() if node["Alive"]]  # type: ignore[no-untyped-call]
    return [dict(node["Resources"]) for node in alive]


def _missing(resources: Resources, nodes: Sequence[Mapping[str, float]]) -> str | None:
    """What no node offers, as ``field: amount``; None when every bundle fits."""
    bundles = resources.for_ray().bundles
    if resources.placement == "STRICT_PACK":
        bundles = [_total(bundles)]
    for index, bundle in enumerate(bundles):
        for name, amount in bundle.items():
            if not any(node.get(name, 0.0) >= amount for node in nodes):
                return f"{_field(index, name)}: {_amount(name, amount)} per trial"
        if not _fits_a_node(bundle, nodes):
            return f"{_field(index, 'bundle')}: {_shown(bundle)} together per trial"
    return None


def _total(bundles: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """What ``bundles`` hold together, by resource."""
    whole: dict[str, float] = {}
    for bundle in bundles:
        for name, amount in bundle.items():
            whole[name] = whole.get(name, 0.0) + amount
    return whole


def _fits_a_node(bundle: Mapping[str, float], nodes: Sequence[Mapping[str, float]]) -> bool:
    return any(all(node.get(n, 0.0) >= a for n, a in bundle.items()) for node in nodes)


def _shown(bundle: Mapping[str, float]) -> str:
    return ", ".join(f"{n} {_amount(n, a)}" for n, a in bundle.items())


@dataclass(frozen=True)
class StartedWorkers:
    """The workers each trial starts outside its placement group (``StartsWorkers``): they
    are held at the same time as the trial's own bundles."""

    field: str
    bundles: Sequence[Mapping[str, float]]

    def missing(self, resources: Resources, nodes: Sequence[Mapping[str, float]]) -> str | None:
        """What the trial and its workers together lack, in words; None when they fit."""
        for bundle in self.bundles:
            if not _fits_a_node(bundle, nodes):
                return f"{self.field}: {_shown(bundle)} per worker"
        held = _total([*resources.for_ray().bundles, *self.bundles])
        offered = _total(nodes)
        for name, amount in held.items():
            if offered.get(name, 0.0) < amount:
                return (
                    f"{self.field}: {len(self.bundles)} workers and the trial hold {name} "
                    f"{_amount(name, amount)} together"
                )
        return None


def started_workers(trainable: object) -> StartedWorkers | None:
    """The workers ``trainable``'s trials start themselves, if it declares any."""
    if isinstance(trainable, StartsWorkers) and (bundles := trainable.worker_bundles()):
        return StartedWorkers(trainable.workers_field, bundles)
    return None


def _field(index: int, name: str) -> str:
    section = "resources" if index == 0 else f"resources.workers.{index - 1}"
    if name.startswith("accelerator_type:"):
        return f"{section}.accelerator_type {name.partition(':')[2]}"
    if name == "bundle":
        return section
    return f"{section}.{_FIELDS.get(name, 'custom.' + name)}"


def _amount(name: str, amount: float) -> str:
    if name == "memory":
        return f"{amount / 2**30:.3g} GiB"
    return f"{amount:g}"
