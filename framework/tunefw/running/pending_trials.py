"""How many trials Ray Tune may hold pending (placement groups requested, not yet running).

With a plain sampler Ray Tune allows 200 pending trials, or 1.1 per cluster CPU, so that an
autoscaling cluster sees the demand; on a fixed cluster, trials that cannot start yet only add
bookkeeping to every scheduling step. tunefw allows twice what fits in the cluster now, and at
least 8: on 2 CPUs that is 8 instead of 200, and 200 cheap trials x 10 reports go from about
40 to 50 trials/s (docs/benchmarks.md). ``TUNE_MAX_PENDING_TRIALS_PG``, when set, wins.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import ray

ENV = "TUNE_MAX_PENDING_TRIALS_PG"
FLOOR = 8


def pending_limit(per_trial: Mapping[str, float], cluster: Mapping[str, float]) -> int:
    """Twice the trials that fit in ``cluster`` at ``per_trial`` each, and at least ``FLOOR``."""
    fits = [cluster.get(name, 0.0) / amount for name, amount in per_trial.items() if amount > 0]
    room = math.floor(min(fits)) if fits else 0
    return max(FLOOR, 2 * room)


@contextmanager
def limit_pending_trials(per_trial: Mapping[str, float]) -> Iterator[None]:
    """Set Ray Tune's pending-trial limit for one run, unless the user set it."""
    if ENV in os.environ:
        yield
        return
    cluster = ray.cluster_resources()  # type: ignore[no-untyped-call]
    os.environ[ENV] = str(pending_limit(per_trial, cluster))
    try:
        yield
    finally:
        os.environ.pop(ENV, None)
