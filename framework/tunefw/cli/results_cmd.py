"""``tunefw results`` and ``tunefw best``: read an experiment back from its Parquet files."""

from __future__ import annotations

import io
import json
import logging
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import typer
from rich.console import Console
from rich.table import Table

from tunefw.cli.options import DEFAULT_STORAGE, NameArg, StorageOption
from tunefw.errors import StoreError
from tunefw.experiment import best_in, write_best_recipe
from tunefw.recipe.objective import Objective
from tunefw.store import columns as col
from tunefw.store.layout import Storage, find_experiment, first_line
from tunefw.store.manifest import load_manifest, objective_of
from tunefw.store.query import parse_where, resolve_column
from tunefw.store.ranking import (
    FEASIBLE,
    PARETO,
    pareto_front,
    with_rank_columns,
)
from tunefw.store.reader import final_rows, read_results, scan_parts

STAGE = "stage"

log = logging.getLogger(__name__)


class Format(str, Enum):
    table = "table"
    csv = "csv"
    json = "json"
    parquet = "parquet"


def results(
    name: NameArg,
    storage: StorageOption = DEFAULT_STORAGE,
    where: Annotated[
        str | None, typer.Option(help='Filter, e.g. "accuracy > 0.9 and kernel == rbf".')
    ] = None,
    sort: Annotated[
        str | None,
        typer.Option(help="Column to sort by, '-' first for descending; best first by default."),
    ] = None,
    top: Annotated[int | None, typer.Option(min=1, help="Only the first K rows.")] = None,
    columns: Annotated[
        str | None, typer.Option(help="Comma-separated columns to show (all by default).")
    ] = None,
    fmt: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.table,
    out: Annotated[Path | None, typer.Option(help="Write to this file, not stdout.")] = None,
    all_rows: Annotated[
        bool, typer.Option("--all-rows", help="Every reported result, not one row per trial.")
    ] = False,
) -> None:
    """The trials of an experiment, best first (the Pareto front first for several objectives).

    With constraints, a ``feasible`` column says which trials meet them; with several
    objectives, a ``pareto`` column marks the trials on the Pareto front. The stages of a
    coarse-to-fine recipe are shown together, with a ``stage`` column.
    """
    location = find_experiment(Storage.open(storage), name)
    manifest = load_manifest(location)
    objective, stages = objective_of(manifest), manifest.get("stages")
    if stages:
        table = _stages_table(location.storage, stages, all_rows)
        available = table.column_names
        if where is not None:
            table = table.filter(parse_where(where, table.schema))
    else:
        parts = scan_parts(location)
        available = parts.schema.names
        expression = None if where is None else parse_where(where, parts.schema)
        if all_rows:  # the filter is pushed down into the scan
            table = read_results(location, where=expression, parts=parts)
        else:  # trials are filtered by their final row, not by any row they reported
            table = final_rows(read_results(location, parts=parts))
            table = table if expression is None else table.filter(expression)
    if not all_rows:
        table = with_rank_columns(table, objective)
        available = [*available, *(n for n in (FEASIBLE, PARETO) if n in table.column_names)]
    table = _sorted(table, sort, objective, available)
    if top is not None:
        table = table.slice(0, top)
    if columns is not None:
        names = [resolve_column(c.strip(), available, "--columns") for c in columns.split(",")]
        table = table.select(names)
    _write(table, fmt, out, _shown_metrics(objective), name)


def _stages_table(store: Storage, stages: list[dict[str, Any]], all_rows: bool) -> pa.Table:
    """Every stage's rows (final rows unless ``all_rows``), with a ``stage`` column; a stage
    whose columns clash with the earlier stages' is skipped, and named."""
    tables: list[pa.Table] = []
    for stage in stages:
        table = read_results(find_experiment(store, stage["experiment"]))
        table = table if all_rows else final_rows(table)
        table = table.append_column(STAGE, pa.array([stage["stage"]] * table.num_rows))
        try:
            pa.unify_schemas([t.schema for t in (*tables, table)], promote_options="permissive")
        except (pa.ArrowTypeError, pa.ArrowInvalid) as exc:
            name, experiment = stage["stage"], stage["experiment"]
            log.warning("skipped stage %s (%s): %s", name, experiment, first_line(exc))
            continue
        tables.append(table)
    return pa.concat_tables(tables, promote_options="permissive")


def _shown_metrics(objective: Objective) -> list[str]:
    """The columns a table view shows after the config: objectives, constraints, flags."""
    metrics = [col.METRIC_PREFIX + m for m in objective.reported_metrics()]
    return [*metrics, FEASIBLE, PARETO]


def _sorted(
    table: pa.Table, sort: str | None, objective: Objective, available: list[str]
) -> pa.Table:
    if sort is not None:
        key = resolve_column(sort.lstrip("-"), available, "--sort")
        keys = [(key, "descending" if sort.startswith("-") else "ascending")]
    else:
        primary = col.METRIC_PREFIX + objective.metric
        flags = [(n, "descending") for n in (PARETO, FEASIBLE) if n in table.column_names]
        keys = [*flags, (primary, "descending" if objective.mode == "max" else "ascending")]
    keys = [(k, order) for k, order in keys if k in table.column_names]
    if not keys or table.num_rows == 0:
        return table
    return table.sort_by(keys)


def _write(table: pa.Table, fmt: Format, out: Path | None, metrics: list[str], title: str) -> None:
    if fmt is Format.table:
        _print_table(table, metrics, title)
        return
    sink = io.BytesIO()
    if fmt is Format.csv:
        pacsv.write_csv(_text_safe(table), sink)
    elif fmt is Format.json:
        sink.write((json.dumps(table.to_pylist(), default=str, indent=1) + "\n").encode())
    else:
        pq.write_table(table, sink)
    data = sink.getvalue()
    if out is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    try:
        out.write_bytes(data)
    except OSError as exc:
        raise StoreError(f"--out: cannot write {out}: {exc.strerror}") from None


def _text_safe(table: pa.Table) -> pa.Table:
    """CSV cannot hold null-typed columns; write those as text."""
    return pa.table(
        {
            n: c.cast(pa.string()) if pa.types.is_null(c.type) else c
            for n, c in zip(table.column_names, table.columns, strict=True)
        }
    )


def _print_table(table: pa.Table, metrics: list[str], title: str) -> None:
    leading = (STAGE, col.TRIAL_ID, col.STATUS, col.ITERATION, col.SUGGESTED_BY)
    shown = [c for c in leading if c in table.column_names]
    shown += [n for n in table.column_names if n.startswith(col.CONFIG_PREFIX)]
    shown += [m for m in metrics if m in table.column_names]
    if not shown:
        shown = table.column_names
    view = Table(title=title)
    for name in shown:
        label = name.removeprefix(col.CONFIG_PREFIX).removeprefix(col.METRIC_PREFIX)
        view.add_column(label, no_wrap=name in (col.TRIAL_ID, col.STATUS))
    for row in table.select(shown).to_pylist():
        view.add_row(*(_fmt(row[c]) for c in shown))
    Console().print(view)


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def best(
    name: NameArg,
    storage: StorageOption = DEFAULT_STORAGE,
    export: Annotated[
        Path | None,
        typer.Option(help="Write a recipe that reruns the best config to this YAML file."),
    ] = None,
) -> None:
    """The best trial's config and score."""
    location = find_experiment(Storage.open(storage), name)
    manifest, table = load_manifest(location), read_results(location)
    objective = objective_of(manifest)
    found = best_in(location.name, table, objective)
    console = Console()
    for stage in manifest.get("stages") or []:
        score = "-" if stage["best"] is None else f"{stage['best']:.4f}"
        console.print(
            f"stage {stage['stage']} ({stage['experiment']}): {stage['trials']} trials, "
            f"best {found.metric} {score}",
            highlight=False,
        )
    nested = manifest.get("nested")
    if nested:
        from tunefw.running.progress.output import nested_line

        line = nested_line(nested["metric"], nested["outer_scores"])
        console.print(line, highlight=False, soft_wrap=True)
    console.print(
        f"best {found.metric} {found.score:.4f} · trial {found.trial_id} ({found.status}, "
        f"{found.iteration} iterations)",
        highlight=False,
    )
    for key, value in found.config.items():
        console.print(f"  {key}: {value}", highlight=False)
    if found.tuned:
        values = ", ".join(f"{k}={v:.4g}" for k, v in found.tuned.items())
        console.print(f"  tuned in the trial: {values}", highlight=False, soft_wrap=True)
    if objective.multi:
        front = pareto_front(table, objective)
        title = f"Pareto front: {len(front)} trials (the best above is its best {found.metric})"
        _print_table(pa.Table.from_pylist(front), _shown_metrics(objective), title)
    if export is not None:
        write_best_recipe(location, found, export, "--export")
        console.print(f"wrote {export}", highlight=False)
