"""Reserved column names of the result store, and the Arrow schema they share.

Every row is one reported result. Besides these, a row has ``config.<name>`` for each
hyperparameter (typed from the search space) and ``metric.<name>`` for each reported metric.
"""

from __future__ import annotations

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

RESERVED_SCHEMA = pa.schema(
    [
        (EXPERIMENT, pa.string()),
        (TRIAL_ID, pa.string()),
        (ITERATION, pa.int64()),
        (TIMESTAMP, pa.timestamp("ms", tz="UTC")),
        (TRIAL_TIME, pa.float64()),
        (NODE_ID, pa.string()),
        (NODE_IP, pa.string()),
        (HOSTNAME, pa.string()),
        (GPU_IDS, pa.string()),
        (CPU_SECONDS, pa.float64()),
        (GPU_SECONDS, pa.float64()),
        (STATUS, pa.string()),
        (ERROR, pa.string()),
        (CHECKPOINT, pa.string()),
        (SUGGESTED_BY, pa.string()),
    ]
)

#: The keys under which a trial's worker adds its Ray node id and GPU ids to each result.
NODE_ID_RESULT_KEY = "tunefw_node_id"
GPU_IDS_RESULT_KEY = "tunefw_gpu_ids"

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
