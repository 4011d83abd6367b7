"""An experiment's trials as the report and the export read them.

One ``Trial`` per trial, in the order the trials started: its sampled config, the final value
of each objective, the primary metric at each iteration (its learning curve), its constraint
violations, its times and its cost. The search space is the one the experiment ran with:
the recipe's, plus the regularizers' hyperparameters.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pyarrow as pa

from tunefw.errors import StoreError
from tunefw.plugin_api.resolve import resolve
from tunefw.recipe.numbers import finite_or_none
from tunefw.recipe.objective import Objective
from tunefw.recipe.space import Constant, ParamSpec
from tunefw.running.manifests import recipe_of
from tunefw.store import columns as col
from tunefw.store.layout import ExperimentLocation, Storage, find_experiment
from tunefw.store.manifest import Manifest, load_manifest, objective_of
from tunefw.store.reader import config_of, final_rows, read_results


@dataclass(frozen=True)
class Trial:
    trial_id: str
    status: str
    iteration: int
    """The last iteration it reported (0 if it failed before reporting)."""
    config: dict[str, Any]
    """Its sampled parameters: constants and parameters whose ``when`` did not hold left out."""
    values: tuple[float | None, ...]
    """The final value of each objective, in ``Objective.targets`` order; None if missing."""
    curve: dict[int, float]
    """The primary metric at each iteration that reported it."""
    constraints: dict[str, float]
    """Each constraint's violation by the final values: <= 0 when it holds."""
    started: datetime
    ended: datetime
    cpu_s: float
    gpu_s: float

    @property
    def score(self) -> float | None:
        """The final value of the primary objective, if it is a finite number."""
        return self.values[0]

    @property
    def feasible(self) -> bool:
        return all(v <= 0 for v in self.constraints.values())


@dataclass(frozen=True)
class StoredExperiment:
    name: str
    manifest: Manifest
    objective: Objective
    space: dict[str, ParamSpec]
    rows: pa.Table
    """Every stored row, each (trial_id, iteration) once."""
    trials: list[Trial]
    """In the order they started."""

    @property
    def sampled(self) -> list[str]:
        """The parameters the search sampled (not constants), in the space's order."""
        return [n for n, spec in self.space.items() if not isinstance(spec, Constant)]

    def by_completion(self) -> list[Trial]:
        """The trials in the order they finished (or last reported, if still running)."""
        return sorted(self.trials, key=lambda t: t.ended)


def varying(names: Sequence[str], configs: Sequence[Mapping[str, Any]]) -> list[str]:
    """The ``names`` every config has, taking two values or more among them."""
    return [
        name
        for name in names
        if all(name in c for c in configs) and len({repr(c[name]) for c in configs}) > 1
    ]


def load_experiment(storage: str, name: str) -> StoredExperiment:
    """Read experiment ``name`` from ``storage``; a ``TunefwError`` if it is unknown or empty."""
    return load_location(find_experiment(Storage.open(storage), name))


def load_location(location: ExperimentLocation) -> StoredExperiment:
    """Read the experiment at ``location``; a ``TunefwError`` if it is empty."""
    manifest = load_manifest(location)
    objective = objective_of(manifest)
    space = resolve(recipe_of(location, manifest)).space
    rows = read_results(location)
    if rows.num_rows == 0:
        raise StoreError(f"{location.name}: no trial has reported a result yet")
    curves = _curves(rows, col.METRIC_PREFIX + objective.metric)
    sampled = {n for n, spec in space.items() if not isinstance(spec, Constant)}
    trials = [
        _trial(row, objective, sampled, curves.get(row[col.TRIAL_ID], {}))
        for row in final_rows(rows).to_pylist()
    ]
    trials.sort(key=lambda t: t.started)
    return StoredExperiment(location.name, manifest, objective, space, rows, trials)


def _curves(rows: pa.Table, column: str) -> dict[str, dict[int, float]]:
    """Each trial's finite values of ``column`` by iteration."""
    curves: dict[str, dict[int, float]] = {}
    if column not in rows.column_names:
        return curves
    triples = zip(
        rows[col.TRIAL_ID].to_pylist(),
        rows[col.ITERATION].to_pylist(),
        rows[column].to_pylist(),
        strict=True,
    )
    for trial_id, iteration, value in sorted(triples, key=lambda t: (t[0], t[1])):
        number = finite_or_none(value)
        if number is not None:
            curves.setdefault(trial_id, {})[iteration] = number
    return curves


def _trial(
    row: dict[str, Any], objective: Objective, sampled: set[str], curve: dict[int, float]
) -> Trial:
    metric = col.METRIC_PREFIX
    ended: datetime = row[col.TIMESTAMP]
    return Trial(
        trial_id=row[col.TRIAL_ID],
        status=row[col.STATUS],
        iteration=row[col.ITERATION],
        config={k: v for k, v in config_of(row).items() if k in sampled and v is not None},
        values=tuple(finite_or_none(row.get(metric + m)) for m in objective.targets),
        curve=curve,
        constraints={
            str(c): c.violation(finite_or_none(row.get(metric + c.metric)))
            for c in objective.constraints
        },
        started=ended - timedelta(seconds=row[col.TRIAL_TIME] or 0.0),
        ended=ended,
        cpu_s=row[col.CPU_SECONDS] or 0.0,
        gpu_s=row[col.GPU_SECONDS] or 0.0,
    )
