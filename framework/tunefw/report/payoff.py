"""The best score so far against the compute spent so far, and where more trials stopped
paying off.

Trials are taken in the order they finished. The best so far moves only with trials that ran
to completion and meet the constraints, as ``tunefw best`` prefers them (a trial stopped early
was scored on fewer iterations); when none completed, every feasible scored trial counts.
Compute is each trial's GPU-seconds when the experiment used GPUs, CPU-seconds otherwise,
including trials stopped early or errored, which cost as much as they ran.

The pay-off point is the first finished trial from which the best so far ends within
``PAYOFF_SHARE`` (1 %) of the total improvement (the final best minus the first best): the
trials after it bought less than 1 % of what the search gained.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tunefw.recipe.objective import Objective
from tunefw.report.trials import StoredExperiment, Trial
from tunefw.store import columns as col

PAYOFF_SHARE = 0.01


@dataclass(frozen=True)
class Payoff:
    resource: str
    """``GPU`` or ``CPU``: what ``spent`` counts, in seconds."""
    spent: list[float]
    """The compute spent when each trial finished, in completion order."""
    best: list[float | None]
    """The best score so far when each trial finished (None before the first)."""
    point: int | None
    """The index of the pay-off point; None when no trial counts toward the best."""


def counted(trials: Sequence[Trial]) -> set[str]:
    """The ids of the trials that move the best so far."""
    scored = [t for t in trials if t.score is not None and t.feasible]
    completed = [t for t in scored if t.status == col.TERMINATED]
    return {t.trial_id for t in completed or scored}


def best_so_far(ordered: Sequence[Trial], objective: Objective) -> list[float | None]:
    """The best counted score after each trial of ``ordered``."""
    pick = max if objective.mode == "max" else min
    keep = counted(ordered)
    best: float | None = None
    out: list[float | None] = []
    for trial in ordered:
        if trial.trial_id in keep and trial.score is not None:
            best = trial.score if best is None else pick(best, trial.score)
        out.append(best)
    return out


def payoff_point(best: Sequence[float | None], share: float = PAYOFF_SHARE) -> int | None:
    """The first index from which ``best`` ends within ``share`` of its total improvement."""
    known = [(i, b) for i, b in enumerate(best) if b is not None]
    if not known:
        return None
    final = known[-1][1]
    total = abs(final - known[0][1])
    return next(i for i, b in known if abs(final - b) <= share * total)


def payoff(experiment: StoredExperiment) -> Payoff:
    ordered = experiment.by_completion()
    gpu = any(t.gpu_s > 0 for t in ordered)
    spent, total = [], 0.0
    for trial in ordered:
        total += trial.gpu_s if gpu else trial.cpu_s
        spent.append(total)
    best = best_so_far(ordered, experiment.objective)
    return Payoff("GPU" if gpu else "CPU", spent, best, payoff_point(best))
