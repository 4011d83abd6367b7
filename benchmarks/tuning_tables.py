"""Real models' scores over the grids people write, precomputed so that 100-trial searches
over them are cheap (``benchmarks/search_efficiency.py`` looks configs up in these tables).

Each table is every combination of its grid: a scikit-learn model on a bundled dataset,
scored by 1 - accuracy (3-fold stratified cross-validation, or one 1/3 holdout for the MLP),
every model seeded. Tables are written to ``benchmarks/data/<name>.parquet``:

    python -m benchmarks.tuning_tables              # builds every table (about 5 min, 2 cores)
    python -m benchmarks.tuning_tables --only svm-digits-conditional
"""

from __future__ import annotations

import argparse
import itertools
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

DATA = Path(__file__).resolve().parent / "data"
SCORE = "error"


@dataclass(frozen=True)
class Grid:
    """One parameter's values as a user writes them (numbers are ordered, words are not)."""

    values: tuple[Any, ...]
    when: tuple[str, tuple[Any, ...]] | None = None
    """(parent, values): the parameter exists only when the parent takes one of them."""


@dataclass(frozen=True)
class Table:
    name: str
    grids: Mapping[str, Grid]
    score: Callable[[dict[str, Any]], float]

    def configs(self) -> list[dict[str, Any]]:
        """Every combination, conditional parameters present only where their parent allows."""
        out, seen = [], set()
        names = list(self.grids)
        for values in itertools.product(*(self.grids[n].values for n in names)):
            config = dict(zip(names, values, strict=True))
            for name in names:
                when = self.grids[name].when
                if when is not None and config[when[0]] not in when[1]:
                    config.pop(name)
            key = key_of(config)
            if key not in seen:
                seen.add(key)
                out.append(config)
        return out

    def path(self) -> Path:
        return DATA / f"{self.name}.parquet"


def key_of(config: Mapping[str, Any]) -> str:
    """A config as the table's lookup key: its values in name order, as text."""
    return "|".join(f"{k}={config[k]!r}" for k in sorted(config))


@cache
def _data(name: str, step: int = 1) -> tuple[np.ndarray, np.ndarray]:
    from sklearn import datasets

    X, y = getattr(datasets, f"load_{name}")(return_X_y=True)
    return X[::step], y[::step]


def _cv_error(model: Any, X: np.ndarray, y: np.ndarray) -> float:
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    folds = StratifiedKFold(3, shuffle=True, random_state=0)
    return 1.0 - float(cross_val_score(model, X, y, cv=folds).mean())


def hgb_breast_cancer(c: dict[str, Any]) -> float:
    from sklearn.ensemble import HistGradientBoostingClassifier

    X, y = _data("breast_cancer")
    model = HistGradientBoostingClassifier(
        learning_rate=c["learning_rate"],
        max_iter=c["max_iter"],
        max_leaf_nodes=c["max_leaf_nodes"],
        min_samples_leaf=c["min_samples_leaf"],
        early_stopping=False,
        random_state=0,
    )
    return _cv_error(model, X, y)


def mlp_digits(c: dict[str, Any]) -> float:
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier

    X, y = _data("digits", 2)
    X_train, X_valid, y_train, y_valid = train_test_split(
        X / 16.0, y, test_size=1 / 3, stratify=y, random_state=0
    )
    model = MLPClassifier(
        hidden_layer_sizes=(c["width"],),
        learning_rate_init=c["learning_rate_init"],
        batch_size=c["batch_size"],
        alpha=c["alpha"],
        max_iter=20,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X_train, y_train)
    return 1.0 - float(model.score(X_valid, y_valid))


def svm_digits(c: dict[str, Any]) -> float:
    from sklearn.svm import SVC

    X, y = _data("digits", 3)
    model = SVC(
        kernel=c["kernel"],
        C=c["C"],
        gamma=c.get("gamma", "scale"),
        degree=c.get("degree", 3),
        coef0=1.0,
    )
    return _cv_error(model, X / 16.0, y)


def forest_wine(c: dict[str, Any]) -> float:
    from sklearn.ensemble import RandomForestClassifier

    X, y = _data("wine")
    model = RandomForestClassifier(
        n_estimators=c["n_estimators"],
        max_depth=c["max_depth"],
        max_features=c["max_features"],
        min_samples_leaf=c["min_samples_leaf"],
        criterion=c["criterion"],
        random_state=0,
    )
    return _cv_error(model, X, y)


GEOMETRIC_C = tuple(float(10.0**e) for e in np.arange(-2, 3.01, 0.5))
GEOMETRIC_GAMMA = tuple(float(10.0**e) for e in np.arange(-5, 0.01, 0.5))

TABLES: dict[str, Table] = {
    t.name: t
    for t in [
        Table(
            "hgb-breast-cancer",
            {
                "learning_rate": Grid((0.01, 0.03, 0.1, 0.3, 1.0)),
                "max_iter": Grid((10, 20, 40, 80)),
                "max_leaf_nodes": Grid((4, 8, 16, 32)),
                "min_samples_leaf": Grid((5, 10, 20, 40)),
            },
            hgb_breast_cancer,
        ),
        Table(
            "mlp-digits",
            {
                "width": Grid((16, 32, 64, 128, 256)),
                "learning_rate_init": Grid((1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2)),
                "batch_size": Grid((16, 32, 64, 128, 256)),
                "alpha": Grid((1e-5, 1e-4, 1e-3, 1e-2, 1e-1)),
            },
            mlp_digits,
        ),
        Table(
            "svm-digits-conditional",
            {
                "kernel": Grid(("linear", "rbf", "poly")),
                "C": Grid(GEOMETRIC_C),
                "gamma": Grid(GEOMETRIC_GAMMA, when=("kernel", ("rbf", "poly"))),
                "degree": Grid((2, 3, 4), when=("kernel", ("poly",))),
            },
            svm_digits,
        ),
        Table(
            "forest-wine-mixed",
            {
                "n_estimators": Grid((10, 25, 50, 100)),
                "max_depth": Grid((2, 4, 8, 16, 32)),
                "max_features": Grid(("sqrt", "log2", "all")),
                "min_samples_leaf": Grid((1, 2, 4, 8)),
                "criterion": Grid(("gini", "entropy")),
            },
            forest_wine,
        ),
    ]
}


def _score(args: tuple[str, dict[str, Any]]) -> float:
    table, config = args
    spec = TABLES[table]
    if "max_features" in config and config["max_features"] == "all":
        config = {**config, "max_features": None}
    return spec.score(config)


def build(table: Table, workers: int) -> None:
    """Score every config of ``table``, one model per process, each on one thread (OpenMP or
    BLAS threads on top of the processes would fight for the same cores)."""
    import os
    from concurrent.futures import ProcessPoolExecutor

    os.environ |= {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    configs = table.configs()
    started = time.perf_counter()
    with ProcessPoolExecutor(workers) as pool:
        scores = list(pool.map(_score, [(table.name, c) for c in configs], chunksize=4))
    DATA.mkdir(exist_ok=True)
    rows = {"key": [key_of(c) for c in configs], SCORE: scores}
    pq.write_table(pa.table(rows), table.path())
    print(
        f"{table.name}: {len(configs)} configs in {time.perf_counter() - started:.0f} s, "
        f"best {min(scores):.4f}, median {np.median(scores):.4f}",
        flush=True,
    )


@cache
def lookup(name: str) -> dict[str, float]:
    """A table's scores by config key (``python -m benchmarks.tuning_tables`` builds them)."""
    table = pq.read_table(TABLES[name].path()).to_pylist()
    return {row["key"]: row[SCORE] for row in table}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=sorted(TABLES))
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    for name in [args.only] if args.only else TABLES:
        build(TABLES[name], args.workers)


if __name__ == "__main__":
    main()
