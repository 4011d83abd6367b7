"""Configs on the unit cube, for the surrogate behind ``converged``.

A range maps linearly (on a log scale when it is one), ordered values by their position, and
unordered ones one-hot; a constant, or a parameter inactive in a config, adds nothing there.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from tunefw.recipe.space import Constant, Grid, Options, ParamSpec, Range


def _ordered(spec: Options) -> list[Any] | None:
    order = spec.order()
    if (
        order is None
        and isinstance(spec, Grid)
        and all(isinstance(v, (int, float)) for v in spec.values)
    ):
        return sorted(spec.values)
    return order


class UnitEncoding:
    """Columns for each sampled parameter of ``space``: one for a number, one per value for
    unordered options."""

    def __init__(self, space: Mapping[str, ParamSpec]) -> None:
        self.space = {n: s for n, s in space.items() if not isinstance(s, Constant)}
        self.width = sum(self._width(spec) for spec in self.space.values())

    @staticmethod
    def _width(spec: ParamSpec) -> int:
        if isinstance(spec, Options) and _ordered(spec) is None:
            return len(spec.values)
        return 1

    def encode(self, configs: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """One row per config."""
        return np.array([self._row(config) for config in configs], dtype=float).reshape(
            len(configs), self.width
        )

    def _row(self, config: Mapping[str, Any]) -> list[float]:
        row: list[float] = []
        for name, spec in self.space.items():
            value = config.get(name)
            if isinstance(spec, Range):
                row.append(0.0 if value is None else _unit(spec, float(value)))
                continue
            assert isinstance(spec, Options)
            order = _ordered(spec)
            if order is not None:
                index = order.index(value) if value in order else 0
                row.append(index / max(len(order) - 1, 1))
            else:
                row.extend(float(value == v) for v in spec.values)
        return row

    def random(self, count: int, rng: np.random.Generator) -> np.ndarray:
        """``count`` points drawn uniformly over the encoded space."""
        columns = []
        for spec in self.space.values():
            width = self._width(spec)
            if width == 1:
                columns.append(rng.random((count, 1)))
            else:
                columns.append(np.eye(width)[rng.integers(width, size=count)])
        return np.hstack(columns) if columns else np.zeros((count, 0))


def _unit(spec: Range, value: float) -> float:
    low, high = spec.bounds
    if spec.log:
        low, high, value = math.log(low), math.log(high), math.log(max(value, spec.bounds[0]))
    return (value - low) / (high - low)
