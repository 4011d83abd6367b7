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

from tunefw.errors import RecipeError
from tunefw.plugin_api.context import TrialContext
from tunefw.plugin_api.protocols import Split
from tunefw.prepare.data import SharedData
from tunefw.prepare.nested_folds import is_nested_validation, subset
from tunefw.prepare.prepared import Prepared
from tunefw.running.experiment_names import refuse_taken
from tunefw.running.runner import RunOptions, RunSummary, run_experiment
from tunefw.running.trial import trial_seed
from tunefw.store.layout import ExperimentLocation
from tunefw.store.manifest import load_manifest, write_manifest


@dataclass(frozen=True)
class NestedSummary:
    outer_scores: list[float]
    summary: RunSummary


def is_nested(prepared: Prepared) -> bool:
    return is_nested_validation(prepared.plugins.validation)


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
    makes the run options (progress display) of each experiment.

    The folds were made when the data was loaded; an experiment name already taken is refused
    (unless ``overwrite``) before the first fold is tuned.
    """
    assert prepared.shared is not None, "nested CV is prepared with its data"
    data = prepared.shared.data
    folds = [
        ExperimentLocation(location.storage, f"{location.name}.outer-{k}")
        for k in range(len(prepared.outer))
    ]
    refuse_taken([*folds, location], overwrite)
    scores = []
    for k, (outer, fold) in enumerate(zip(prepared.outer, folds, strict=True)):
        inner = SharedData(subset(data, outer.split.train), outer.inner)
        summary = run_experiment(
            prepared.replanned(inner),
            fold,
            options_for(f"outer fold {k}: tuning {fold.name}", fold.name),
            overwrite=overwrite,
        )
        if summary.best is None:
            raise RecipeError(f"validation: outer fold {k} finished without a scored trial")
        config = {**summary.best.config}
        scores.append(outer_score(prepared, config, outer.split))
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
        "outer_experiments": [fold.name for fold in folds],
    }
    write_manifest(location, manifest)
    return NestedSummary(scores, summary)
