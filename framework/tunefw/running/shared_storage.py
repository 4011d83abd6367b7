"""Refuse a multi-node run whose storage is a path that not every node sees.

Trials checkpoint, and Ray Tune saves the experiment, from the nodes they run on; a path that
only the driver's machine has would leave checkpoints scattered and a lost node's trials with
nothing to resume from. A URI (``s3://``, ``gs://``...) is shared by nature.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from tunefw.errors import StoreError
from tunefw.store.layout import ExperimentLocation


@ray.remote(num_cpus=0)
def _sees(marker: str, token: str) -> bool:
    try:
        return Path(marker).read_text() == token
    except OSError:
        return False


def check_shared_storage(location: ExperimentLocation, timeout_s: float = 120) -> None:
    """On a cluster of two or more nodes, check that each sees the same local storage path."""
    if not location.storage.is_local:
        return
    nodes = [node for node in ray.nodes() if node["Alive"]]  # type: ignore[no-untyped-call]
    if len(nodes) < 2:
        return
    token = secrets.token_hex(8)
    root = Path(location.storage.root)  # not the experiment's directory: it is not made yet
    marker = root / f".shared-check-{token}.tmp"
    try:
        root.mkdir(parents=True, exist_ok=True)
        marker.write_text(token)
    except OSError as exc:
        raise StoreError(f"storage: cannot write to {root}: {exc.strerror}") from None
    try:
        probes = [
            _sees.options(
                scheduling_strategy=NodeAffinitySchedulingStrategy(node["NodeID"], soft=False)
            ).remote(str(marker), token)
            for node in nodes
        ]
        seen = ray.get(probes, timeout=timeout_s)
    finally:
        marker.unlink(missing_ok=True)
    blind = [node["NodeManagerAddress"] for node, ok in zip(nodes, seen, strict=True) if not ok]
    if blind:
        raise StoreError(
            f"storage: {location.storage.display} is not shared with every node of the cluster "
            f"(not seen from {', '.join(sorted(set(blind)))}); use a URI such as s3://bucket/x "
            "or a filesystem every node mounts at the same path"
        )
