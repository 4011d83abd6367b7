"""The problems of the search-efficiency benchmark, each a function to minimise.

Synthetic: Branin, Hartmann6 and four BBOB functions from ``coco-experiment`` (offline), over
boxes. Real, over continuous ranges: two scikit-learn tuning tasks on bundled datasets, scored
by 3-fold cross-validation (1 - accuracy, so lower is better). Real, over the discrete grids
people write (ordered numbers, categories, a conditional SVM): four models' precomputed
tables (``benchmarks.tuning_tables``). Every problem is deterministic for a given config.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Bound:
    low: float
    high: float
    log: bool = False
    integer: bool = False

    def recipe(self) -> dict[str, Any]:
        """The bound in recipe syntax (``{uniform: [...]}``...)."""
        kind = {
            (False, False): "uniform",
            (True, False): "loguniform",
            (False, True): "int",
            (True, True): "logint",
        }[(self.log, self.integer)]
        bounds = [int(self.low), int(self.high)] if self.integer else [self.low, self.high]
        return {kind: bounds}


@dataclass(frozen=True)
class Levels:
    """Discrete values as a user lists them: numbers (ordered) or categories, maybe under a
    condition on another parameter."""

    values: tuple[Any, ...]
    when: tuple[str, tuple[Any, ...]] | None = None

    def recipe(self) -> dict[str, Any]:
        """The parameter in recipe syntax: a ``choice`` (of numbers: ordered by default)."""
        written: dict[str, Any] = {"choice": list(self.values)}
        if self.when is not None:
            written["when"] = {self.when[0]: list(self.when[1])}
        return written


@dataclass(frozen=True)
class Problem:
    name: str
    bounds: dict[str, Bound | Levels]
    evaluate: Callable[[dict[str, Any]], float]
    optimum: float | None = None
    """The known minimum, or None (regret is then against the best value any run found)."""
    real: bool = False
    """A real model's tuning problem (the issue's goals are judged on these)."""

    def suggest(self, trial: Any) -> dict[str, Any]:
        """The config, asked of a standalone Optuna trial as its users write it: ranges as
        floats and ints, listed values as ``suggest_categorical``; conditions as ``if``."""
        config: dict[str, Any] = {}
        for name, b in self.bounds.items():
            if isinstance(b, Levels):
                if b.when is None or config.get(b.when[0]) in b.when[1]:
                    config[name] = trial.suggest_categorical(name, list(b.values))
            elif b.integer:
                config[name] = trial.suggest_int(name, int(b.low), int(b.high), log=b.log)
            else:
                config[name] = trial.suggest_float(name, b.low, b.high, log=b.log)
        return config


def table_problem(name: str) -> Problem:
    """A precomputed table as a problem: its grids as levels, its scores looked up."""
    from benchmarks.tuning_tables import TABLES, key_of, lookup

    table = TABLES[name]

    def evaluate(config: dict[str, Any]) -> float:
        return lookup(name)[key_of(config)]

    levels = {n: Levels(g.values, g.when) for n, g in table.grids.items()}
    return Problem(name, levels, evaluate, real=True)


def branin(c: dict[str, Any]) -> float:
    x1, x2 = c["x1"], c["x2"]
    b, cc, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return float((x2 - b * x1**2 + cc * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10)


_H6_A = np.array(
    [
        [10, 3, 17, 3.5, 1.7, 8],
        [0.05, 10, 17, 0.1, 8, 14],
        [3, 3.5, 1.7, 10, 17, 8],
        [17, 8, 0.05, 10, 0.1, 14],
    ]
)
_H6_P = 1e-4 * np.array(
    [
        [1312, 1696, 5569, 124, 8283, 5886],
        [2329, 4135, 8307, 3736, 1004, 9991],
        [2348, 1451, 3522, 2883, 3047, 6650],
        [4047, 8828, 8732, 5743, 1091, 381],
    ]
)
_H6_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])


def hartmann6(c: dict[str, Any]) -> float:
    x = np.array([c[f"x{i}"] for i in range(6)])
    inner = np.sum(_H6_A * (x - _H6_P) ** 2, axis=1)
    return float(-np.sum(_H6_ALPHA * np.exp(-inner)))


@cache
def _bbob(function: int, dimension: int) -> Any:
    import cocoex

    options = f"dimensions:{dimension} instance_indices:1 function_indices:{function}"
    return next(iter(cocoex.Suite("bbob", "", options)))


def bbob(function: int, dimension: int = 5) -> Problem:
    def evaluate(c: dict[str, Any]) -> float:
        return float(_bbob(function, dimension)([c[f"x{i}"] for i in range(dimension)]))

    name = {1: "sphere", 8: "rosenbrock", 15: "rastrigin", 21: "gallagher"}[function]
    bounds = {f"x{i}": Bound(-5.0, 5.0) for i in range(dimension)}
    return Problem(f"bbob-f{function}-{name}-{dimension}d", bounds, evaluate)


@cache
def _dataset(name: str) -> tuple[np.ndarray, np.ndarray]:
    from sklearn import datasets

    X, y = getattr(datasets, f"load_{name}")(return_X_y=True)
    return X, y


def svc_digits(c: dict[str, Any]) -> float:
    from sklearn.model_selection import cross_val_score
    from sklearn.svm import SVC

    X, y = _dataset("digits")
    model = SVC(C=c["C"], gamma=c["gamma"])
    return 1.0 - float(cross_val_score(model, X[::3] / 16.0, y[::3], cv=3).mean())


def tree_breast_cancer(c: dict[str, Any]) -> float:
    from sklearn.model_selection import cross_val_score
    from sklearn.tree import DecisionTreeClassifier

    X, y = _dataset("breast_cancer")
    model = DecisionTreeClassifier(
        max_depth=c["max_depth"],
        min_samples_leaf=c["min_samples_leaf"],
        ccp_alpha=c["ccp_alpha"],
        random_state=0,
    )
    return 1.0 - float(cross_val_score(model, X, y, cv=3).mean())


PROBLEMS: dict[str, Problem] = {
    p.name: p
    for p in [
        Problem("branin", {"x1": Bound(-5, 10), "x2": Bound(0, 15)}, branin, 0.397887),
        Problem("hartmann6", {f"x{i}": Bound(0, 1) for i in range(6)}, hartmann6, -3.32237),
        bbob(1),
        bbob(8),
        bbob(15),
        bbob(21),
        Problem(
            "sklearn-svc-digits",
            {"C": Bound(1e-2, 1e3, log=True), "gamma": Bound(1e-4, 1.0, log=True)},
            svc_digits,
            real=True,
        ),
        Problem(
            "sklearn-tree-breast-cancer",
            {
                "max_depth": Bound(1, 20, integer=True),
                "min_samples_leaf": Bound(1, 50, log=True, integer=True),
                "ccp_alpha": Bound(1e-5, 0.1, log=True),
            },
            tree_breast_cancer,
            real=True,
        ),
        *(
            table_problem(name)
            for name in (
                "hgb-breast-cancer",
                "mlp-digits",
                "svm-digits-conditional",
                "forest-wine-mixed",
            )
        ),
    ]
}


def branin_trial(config: dict[str, Any], ctx: Any) -> dict[str, float]:
    """Branin as tunefw's ``function`` trainable, for the through-Ray check."""
    return {"value": branin(config)}
