"""Reserved column names of the result store, and the Arrow schema they share.

Every row is one reported result. Besides these, a row has ``config.<name>`` for each
hyperparameter (typed from the search space) and ``metric.<name>`` for each reported metric.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import pyarrow as pa

SCHEMA_VERSION = "1"
#: Parquet file metadata: every file carries the schema version; a compacted part also says
#: it holds each (trial_id, iteration) once, so readers skip deduplication.
SCHEMA_VERSION_KEY = b"tunefw.schema_version"
UNIQUE_KEYS_KEY = b"tunefw.unique_keys"

EXPERIMENT = "experiment"
TRIAL_ID = "trial_id"
ITERATION = "iteration"
TIMESTAMP = "timestamp"
TRIAL_TIME = "trial_time_s"
NODE_ID = "node_id"
NODE_IP = "node_ip"
HOSTNAME = "hostname"
GPU_IDS = "gpu_ids"
CPU_SECONDS = "cpu_s"
GPU_SECONDS = "gpu_s"
STATUS = "status"
ERROR = "error"
CHECKPOINT = "checkpoint"
"""Where Ray Tune persisted the trial's checkpoint of this result, if it made one."""
SUGGESTED_BY = "suggested_by"
"""The search method that suggested the trial's config (``auto``: the one it picked)."""

CONFIG_PREFIX = "config."
METRIC_PREFIX = "metric."

RUNNING = "running"
TERMINATED = "terminated"
STOPPED_EARLY = "stopped_early"
ERRORED = "errored"

#: The keys under which a trial's worker adds its Ray node id and GPU ids to each result.
NODE_ID_RESULT_KEY = "tunefw_node_id"
GPU_IDS_RESULT_KEY = "tunefw_gpu_ids"


@dataclass(frozen=True)
class Reported:
    """What a reserved column's value is made from: one reported result of one trial."""

    experiment: str
    trial_id: str
    iteration: int
    result: Mapping[str, Any]
    resources: Mapping[str, float]
    """The trial's CPUs and GPUs: its running time times these is its cost."""
    suggested_by: str | None

    @property
    def seconds(self) -> float | None:
        return self.result.get("time_total_s")

    def cost(self, resource: str) -> float | None:
        seconds = self.seconds
        return None if seconds is None else seconds * self.resources.get(resource, 0.0)


@dataclass(frozen=True)
class Reserved:
    """One reserved column: its name, its Arrow type, and where its value comes from (a
    trial's end or a checkpoint fills ``status``, ``error`` and ``checkpoint`` later)."""

    name: str
    type: pa.DataType
    value: Callable[[Reported], Any]


RESERVED: tuple[Reserved, ...] = (
    Reserved(EXPERIMENT, pa.string(), lambda r: r.experiment),
    Reserved(TRIAL_ID, pa.string(), lambda r: r.trial_id),
    Reserved(ITERATION, pa.int64(), lambda r: r.iteration),
    Reserved(TIMESTAMP, pa.timestamp("ms", tz="UTC"), lambda r: datetime.now(timezone.utc)),
    Reserved(TRIAL_TIME, pa.float64(), lambda r: r.seconds),
    Reserved(NODE_ID, pa.string(), lambda r: r.result.get(NODE_ID_RESULT_KEY)),
    Reserved(NODE_IP, pa.string(), lambda r: r.result.get("node_ip")),
    Reserved(HOSTNAME, pa.string(), lambda r: r.result.get("hostname")),
    Reserved(GPU_IDS, pa.string(), lambda r: r.result.get(GPU_IDS_RESULT_KEY)),
    Reserved(CPU_SECONDS, pa.float64(), lambda r: r.cost("cpu")),
    Reserved(GPU_SECONDS, pa.float64(), lambda r: r.cost("gpu")),
    Reserved(STATUS, pa.string(), lambda r: RUNNING),
    Reserved(ERROR, pa.string(), lambda r: None),
    Reserved(CHECKPOINT, pa.string(), lambda r: None),
    Reserved(SUGGESTED_BY, pa.string(), lambda r: r.suggested_by),
)
"""Every reserved column, in the order rows hold them: a new one is one entry here."""

RESERVED_SCHEMA = pa.schema([(column.name, column.type) for column in RESERVED])


def reserved_values(reported: Reported) -> dict[str, Any]:
    """A row's reserved columns, for one reported result."""
    return {column.name: column.value(reported) for column in RESERVED}


#: Keys Ray Tune (and tunefw's worker) add to every result: reserved columns, or dropped.
RAY_RESULT_KEYS = frozenset(
    {
        NODE_ID_RESULT_KEY,
        GPU_IDS_RESULT_KEY,
        "checkpoint_dir_name",
        "config",
        "date",
        "done",
        "experiment_id",
        "experiment_tag",
        "hostname",
        "iterations_since_restore",
        "node_ip",
        "pid",
        "should_checkpoint",
        "time_since_restore",
        "time_this_iter_s",
        "time_total_s",
        "timestamp",
        "training_iteration",
        "trial_id",
    }
)
