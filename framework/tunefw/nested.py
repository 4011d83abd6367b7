"""Nested cross-validation: estimate how well the whole tuning procedure generalises.

A validation strategy with ``outer_splits`` (the ``nested`` plugin) makes a run nested: each
outer fold is tuned as its own experiment (``NAME.outer-K``) on the outer-training rows, its
best config is refit on them and scored on the held-out rows; then ``NAME`` itself is tuned on
all rows. The outer scores go in ``NAME``'s manifest, apart from the inner ones.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from tunefw.context import TrialContext
from tunefw.data import SharedData
from tunefw.errors import RecipeError
from tunefw.prepare import Prepared
from tunefw.protocols import Dataset, Split
from tunefw.runner import RunOptions, RunSummary, run_experiment
from tunefw.store.layout import ExperimentLocation
from tunefw.store.manifest import load_manifest, write_manifest
from tunefw.trial import trial_seed


@dataclass(frozen=True)
class NestedSummary:
    outer_scores: list[float]
    summary: RunSummary


def is_nested(prepared: Prepared) -> bool:
    return hasattr(prepared.plugins.validation, "outer_splits")


def _subset(data: Dataset, rows: np.ndarray) -> Dataset:
    def take(a: Any) -> Any:
        return None if a is None else (a.iloc[rows] if hasattr(a, "iloc") else a[rows])

    return Dataset(X=take(data.X), y=take(data.y), groups=take(data.groups))


def outer_score(prepared: Prepared, config: dict[str, Any], split: Split) -> float:
    """Refit ``config`` on the outer-training rows and score it on the held-out ones."""
    assert prepared.shared is not None
    reports: list[dict[str, Any]] = []
    recipe, plugins = prepared.recipe, prepared.plugins
    ctx = TrialContext(
        config=config,
        metric=recipe.objective.metric,
        reporter=lambda metrics, state: reports.append(metrics),
        data=prepared.shared.data,
        splits=(split,),
        regularizers=plugins.regularizers,
        regularizer_keys=plugins.regularizer_keys,
        seed=trial_seed(recipe.search.seed, config),
    )
    plugins.trainable.run(ctx)
    return float(reports[-1][recipe.objective.metric])


def run_nested(
    prepared: Prepared,
    location: ExperimentLocation,
    options_for: Callable[[str, str], RunOptions],
    *,
    overwrite: bool = False,
) -> NestedSummary:
    """Tune each outer fold, score it, then tune on all rows; ``options_for(title, experiment)``
    makes the run options (progress display) of each experiment."""
    if prepared.shared is None:
        raise RecipeError("validation: nested cross-validation needs a data section")
    validation: Any = prepared.plugins.validation
    data = prepared.shared.data
    scores = []
    for k, split in enumerate(validation.outer_splits(data)):
        inner_data = _subset(data, split.train)
        inner = SharedData(inner_data, tuple(validation.inner.splits(inner_data)))
        fold = ExperimentLocation(location.storage, f"{location.name}.outer-{k}")
        summary = run_experiment(
            prepared.replanned(inner),
            fold,
            options_for(f"outer fold {k}: tuning {fold.name}", fold.name),
            overwrite=overwrite,
        )
        if summary.best is None:
            raise RecipeError(f"validation: outer fold {k} finished without a scored trial")
        config = {**summary.best.config}
        scores.append(outer_score(prepared, config, split))
    summary = run_experiment(
        prepared.replanned(prepared.shared),
        location,
        options_for(f"tuning {location.name} on all rows", location.name),
        overwrite=overwrite,
    )
    manifest = load_manifest(location)
    manifest["nested"] = {
        "metric": prepared.recipe.objective.metric,
        "outer_scores": scores,
        "mean": statistics.fmean(scores),
        "std": statistics.pstdev(scores),
        "outer_experiments": [f"{location.name}.outer-{k}" for k in range(len(scores))],
    }
    write_manifest(location, manifest)
    return NestedSummary(scores, summary)
