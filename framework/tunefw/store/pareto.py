"""Pareto ranking of points to minimise: non-dominated fronts, crowding distance, and the
keys NSGA-II (and MO-ASHA) rank points by."""

from __future__ import annotations

import numpy as np


def non_dominated(costs: np.ndarray) -> np.ndarray:
    """A mask of the rows of ``costs`` (to minimise) that no other row dominates."""
    keep = np.ones(len(costs), dtype=bool)
    for i, point in enumerate(costs):
        if keep[i]:
            dominated = np.all(costs >= point, axis=1) & np.any(costs > point, axis=1)
            keep &= ~dominated
    return keep


def fronts(costs: np.ndarray) -> np.ndarray:
    """Each row's non-dominated front: 0 for the Pareto front, 1 for the front once it is
    removed, and so on."""
    rank = np.full(len(costs), -1)
    left = np.arange(len(costs))
    level = 0
    while len(left):
        mask = non_dominated(costs[left])
        rank[left[mask]] = level
        left = left[~mask]
        level += 1
    return rank


def crowding(costs: np.ndarray) -> np.ndarray:
    """NSGA-II's crowding distance of each row within ``costs`` (one front): the ends of each
    objective are infinitely far; inner points sum their neighbours' normalised gaps."""
    count, dims = costs.shape
    distance = np.zeros(count)
    if count <= 2:
        return np.full(count, np.inf)
    for d in range(dims):
        order = np.argsort(costs[:, d], kind="stable")
        column = costs[order, d]
        span = column[-1] - column[0]
        distance[order[[0, -1]]] = np.inf
        if span > 0:
            distance[order[1:-1]] += (column[2:] - column[:-2]) / span
    return distance


def rank_keys(costs: np.ndarray, violations: np.ndarray | None = None) -> list[tuple[float, ...]]:
    """A sort key per row, smaller is better: feasible rows (violation <= 0) by front, then
    by crowding distance (the more isolated first); then infeasible rows, the least violating
    first."""
    violations = np.zeros(len(costs)) if violations is None else violations
    feasible = np.flatnonzero(violations <= 0)
    keys: list[tuple[float, ...]] = [(1.0, float(v), 0.0) for v in violations]
    if len(feasible):
        rank = fronts(costs[feasible])
        for level in np.unique(rank):
            members = feasible[rank == level]
            for row, spread in zip(members, crowding(costs[members]), strict=True):
                keys[row] = (0.0, float(level), -float(spread))
    return keys
