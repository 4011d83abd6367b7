"""``tunefw experiments`` and ``tunefw compare``: experiments side by side."""

from __future__ import annotations

import logging

from rich.console import Console
from rich.table import Table

from tunefw.cli.options import DEFAULT_STORAGE, NameArg, StorageOption
from tunefw.errors import StoreError
from tunefw.experiment import find_best
from tunefw.store.layout import ExperimentLocation, Kind, Storage, classify, find_experiment
from tunefw.store.manifest import load_manifest, objective_of
from tunefw.store.ranking import best_trial
from tunefw.store.reader import final_rows, read_results

log = logging.getLogger(__name__)


def experiments(storage: StorageOption = DEFAULT_STORAGE) -> None:
    """Every experiment in the storage root: status, trials, best score, start time.

    A directory that is not a readable experiment is left out, with a warning saying why.
    """
    store = Storage.open(storage)
    view = Table("name", "status", "trials", "metric", "best", "started", title=store.display)
    for name in store.directories():
        location = ExperimentLocation(store, name)
        found = classify(location)
        if found.kind is Kind.OTHER:
            log.warning("skipped %s: not a tunefw experiment: %s", location.shown, found.why)
        if found.kind is not Kind.EXPERIMENT:
            continue
        try:
            view.add_row(*_row(location))
        except StoreError as exc:
            log.warning("skipped %s", exc)
    Console().print(view)


def _row(location: ExperimentLocation) -> tuple[str, ...]:
    manifest = load_manifest(location)
    objective = objective_of(manifest)
    table = read_results(location)
    best = best_trial(table, objective)
    return (
        location.name,
        manifest["status"],
        str(final_rows(table).num_rows),
        ", ".join(f"{m} ({mode})" for m, mode in objective.targets.items()),
        "-" if best is None else f"{best.score:.4f}",
        (manifest.get("started_at") or "")[:19].replace("T", " "),
    )


def compare(first: NameArg, second: NameArg, storage: StorageOption = DEFAULT_STORAGE) -> None:
    """Two experiments' best scores and configs, side by side."""
    store = Storage.open(storage)
    bests = [find_best(find_experiment(store, name)) for name in (first, second)]
    if bests[0].metric != bests[1].metric:
        raise StoreError(
            f"compare: {first} optimises {bests[0].metric}, {second} {bests[1].metric}"
        )
    view = Table("", first, second)
    view.add_row(bests[0].metric, *(f"{b.score:.4f}" for b in bests))
    view.add_row("trial", *(b.trial_id for b in bests))
    view.add_row("status", *(b.status for b in bests))
    keys = list(dict.fromkeys([*bests[0].config, *bests[1].config]))
    for key in keys:
        view.add_row(key, *(_fmt(b.config.get(key, "-")) for b in bests))
    Console().print(view)


def _fmt(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
