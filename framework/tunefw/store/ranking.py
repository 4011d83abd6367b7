"""Rank an experiment's trials by its objective: best first, feasibility, the Pareto front.

A trial's score is its final reported value. A trial that breaks a constraint is infeasible
and ranks after every feasible one; a trial stopped early was scored on fewer iterations, so
it ranks after every completed one. With several objectives, the best trial is the Pareto
front's best on the primary metric, and ``pareto_front`` gives the whole front.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from tunefw.recipe.objective import Objective
from tunefw.store import columns as col
from tunefw.store.pareto import non_dominated
from tunefw.store.reader import config_of, final_rows

TUNED_PREFIX = "tuned."
FEASIBLE = "feasible"
PARETO = "pareto"


@dataclass(frozen=True)
class BestTrial:
    trial_id: str
    metric: str
    score: float
    config: dict[str, Any]
    iteration: int
    status: str
    tuned: dict[str, float] = field(default_factory=dict)
    """Values a strategy tuned inside the trial (``tuned.NAME`` metrics, e.g. hypergradient);
    a tuned single value also replaces its starting value in ``config``."""


def _metric(row: dict[str, Any], name: str) -> Any:
    """The row's value of metric ``name``, or None if it reported none or no number (a
    store's column may hold text)."""
    value = row.get(col.METRIC_PREFIX + name)
    return value if isinstance(value, (int, float)) else None


def feasible(row: dict[str, Any], objective: Objective) -> bool:
    """Whether a final row meets every constraint of ``objective``."""
    return objective.feasible({c.metric: _metric(row, c.metric) for c in objective.constraints})


def ranked_trials(table: pa.Table, objective: Objective) -> list[dict[str, Any]]:
    """Final rows that reported the primary metric: feasible, then completed, then best."""
    rows = [r for r in final_rows(table).to_pylist() if _metric(r, objective.metric) is not None]
    sign = -1.0 if objective.mode == "max" else 1.0
    return sorted(
        rows,
        key=lambda r: (
            not feasible(r, objective),
            r[col.STATUS] != col.TERMINATED,
            sign * _metric(r, objective.metric),
        ),
    )


def pareto_front(table: pa.Table, objective: Objective) -> list[dict[str, Any]]:
    """The feasible final rows no other feasible row dominates, best primary metric first."""
    targets = objective.targets
    rows = [
        r
        for r in ranked_trials(table, objective)
        if feasible(r, objective) and all(_metric(r, m) is not None for m in targets)
    ]
    if not rows:
        return []
    signs = np.array([1.0 if mode == "min" else -1.0 for mode in targets.values()])
    costs = np.array([[_metric(r, m) for m in targets] for r in rows], dtype=float) * signs
    return [row for row, keep in zip(rows, non_dominated(costs), strict=True) if keep]


def with_rank_columns(finals: pa.Table, objective: Objective) -> pa.Table:
    """Final rows with a ``feasible`` column (with constraints) and ``pareto`` (multi-objective)."""
    rows = finals.to_pylist()
    if objective.constraints:
        mask = [feasible(r, objective) for r in rows]
        finals = finals.append_column(FEASIBLE, pa.array(mask, pa.bool_()))
    if objective.multi:
        front = {r[col.TRIAL_ID] for r in pareto_front(finals, objective)}
        mask = [r[col.TRIAL_ID] in front for r in rows]
        finals = finals.append_column(PARETO, pa.array(mask, pa.bool_()))
    return finals


def _natural(name: str) -> tuple[Any, ...]:
    """``l2.2`` before ``l2.10``."""
    return tuple(int(p) if p.isdigit() else p for p in name.split("."))


def best_trial(table: pa.Table, objective: Objective) -> BestTrial | None:
    """The best feasible trial on the primary metric (see ``ranked_trials``), or None."""
    ranked = ranked_trials(table, objective)
    if not ranked or not feasible(ranked[0], objective):
        return None
    best = ranked[0]
    prefix = col.METRIC_PREFIX + TUNED_PREFIX
    tuned = {k.removeprefix(prefix): v for k, v in best.items() if k.startswith(prefix)}
    tuned = {k: float(tuned[k]) for k in sorted(tuned, key=_natural) if tuned[k] is not None}
    config = {k: v for k, v in config_of(best).items() if v is not None}
    return BestTrial(
        trial_id=best[col.TRIAL_ID],
        metric=objective.metric,
        score=float(_metric(best, objective.metric)),
        config=config | {k: v for k, v in tuned.items() if k in config},
        iteration=int(best[col.ITERATION]),
        status=best[col.STATUS],
        tuned=tuned,
    )
