"""``Experiment``: a stored experiment seen from Python: its best trial, its results as Arrow,
its Pareto front, its report and a recipe that reruns its best config."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import yaml

from tunefw.errors import StoreError
from tunefw.recipe.objective import Objective
from tunefw.store.layout import ExperimentLocation, Storage, find_experiment, reason
from tunefw.store.manifest import Manifest, load_manifest, objective_of
from tunefw.store.query import parse_where, resolve_column
from tunefw.store.ranking import BestTrial, best_trial, pareto_front
from tunefw.store.reader import read_results, scan_parts


def find_best(location: ExperimentLocation) -> BestTrial:
    """The best feasible trial; one line if none reported the metric or none is feasible."""
    objective = objective_of(load_manifest(location))
    return best_in(location.name, read_results(location), objective)


def best_in(name: str, table: pa.Table, objective: Objective) -> BestTrial:
    found = best_trial(table, objective)
    if found is None:
        constraints = ", ".join(str(c) for c in objective.constraints)
        why = f"is feasible ({constraints})" if constraints else f"reported {objective.metric}"
        raise StoreError(f"{name}: no trial {why}")
    return found


def best_recipe(recipe: dict[str, Any], found: BestTrial) -> dict[str, Any]:
    """The recipe as run, with its space pinned to the best config: one trial, no search."""
    search = {k: v for k, v in recipe["search"].items() if k not in ("warm_start", "params")}
    search |= {"strategy": "grid", "num_samples": 1, "space": dict(found.config)}
    return {**recipe, "name": f"{recipe['name']}-best", "search": search}


def write_best_recipe(
    location: ExperimentLocation, found: BestTrial, path: Path, label: str
) -> None:
    """Write the recipe that reruns ``found``, with a header saying what it is; an error
    names ``label`` (the flag or argument that gave ``path``)."""
    recipe = best_recipe(load_manifest(location)["recipe"], found)
    header = (
        f"# The best trial of {location.name}: {found.metric} {found.score:.6g} "
        f"(trial {found.trial_id}).\n# `tunefw run` on this file trains it again.\n"
    )
    _write(path, header + yaml.safe_dump(recipe, sort_keys=False), label)


def write_report(location: ExperimentLocation, path: Path | None, label: str) -> Path:
    """Write the experiment's HTML report to ``path`` (``NAME-report.html`` by default)."""
    from tunefw.report.page import render  # plotly, Optuna's importance: ~0.9 s
    from tunefw.report.trials import load_location

    out = path or Path(f"{location.name}-report.html")
    _write(out, render(load_location(location)), label)
    return out


def _write(path: Path, text: str, label: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise StoreError(f"{label}: cannot write {path}: {reason(exc)}") from None


def read_table(
    location: ExperimentLocation,
    columns: Sequence[str] | None = None,
    where: str | None = None,
) -> pa.Table:
    """The experiment's rows; ``columns`` and ``where`` pushed down into the Parquet scan."""
    parts = scan_parts(location)
    available = parts.schema.names
    wanted = None if columns is None else [resolve_column(c, available, "columns") for c in columns]
    expression = None if where is None else parse_where(where, parts.schema)
    return read_results(location, wanted, expression, parts)


class Experiment:
    """A stored experiment. Every method reads the store afresh, so a handle kept while a
    run or a resume writes sees what it has written."""

    def __init__(self, location: ExperimentLocation) -> None:
        self.location = location

    @classmethod
    def open(cls, name: str, storage: str) -> Experiment:
        """Experiment ``name`` in ``storage``; one line if there is none."""
        return cls(find_experiment(Storage.open(storage), name))

    @property
    def name(self) -> str:
        return self.location.name

    @property
    def manifest(self) -> Manifest:
        return load_manifest(self.location)

    @property
    def status(self) -> str:
        """``running``, ``completed``, ``incomplete``, ``interrupted`` or ``failed``."""
        return str(self.manifest["status"])

    @property
    def objective(self) -> Objective:
        return objective_of(self.manifest)

    def best(self) -> BestTrial:
        """The best feasible trial: config, score, trial id, and what it tuned itself."""
        return find_best(self.location)

    def results(self, columns: Sequence[str] | None = None, where: str | None = None) -> pa.Table:
        """Every stored row (one per reported result), as a pyarrow Table; ``columns`` may
        omit their ``config.``/``metric.`` prefix, ``where`` reads like ``"accuracy > 0.9"``."""
        return read_table(self.location, columns, where)

    def to_pandas(self, columns: Sequence[str] | None = None, where: str | None = None) -> Any:
        """``results`` as a pandas DataFrame."""
        return self.results(columns, where).to_pandas()

    def pareto(self) -> list[dict[str, Any]]:
        """The feasible final rows no other dominates, best primary metric first (for one
        objective: the best trial's row)."""
        return pareto_front(read_results(self.location), self.objective)

    def report(self, path: str | Path | None = None) -> Path:
        """Write the HTML report (``NAME-report.html`` by default); its path."""
        return write_report(self.location, None if path is None else Path(path), "report")

    def export_recipe(self, path: str | Path) -> Path:
        """Write a recipe that reruns the best config (one trial, no search); its path."""
        out = Path(path)
        write_best_recipe(self.location, self.best(), out, "export_recipe")
        return out

    def __repr__(self) -> str:
        return f"Experiment({self.name!r}, storage={self.location.storage.display!r})"
