"""The Python API: run, resume and validate recipes, and read experiments back.

The CLI is a thin layer over these functions; they raise ``TunefwError`` subclasses with the
one-line messages the CLI prints (and maps to exit code 2).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa

from tunefw.errors import TunefwError
from tunefw.experiment import Experiment, read_table
from tunefw.recipe.loading import Verbatim, flag_overrides
from tunefw.recipe.schema import DEFAULT_STORAGE, Recipe
from tunefw.running.launch import RecipeSource, check, launch, resume_stored
from tunefw.running.progress.output import RunOutput
from tunefw.store.layout import ExperimentLocation, Kind, Storage, classify, find_experiment


def run(
    recipe: RecipeSource,
    *,
    set: Mapping[str, Any] | None = None,
    name: str | None = None,
    storage: str | None = None,
    address: str | None = None,
    overwrite: bool = False,
    resume: bool = False,
    progress: bool = True,
) -> Experiment:
    """Run a recipe (a file's path, a mapping, or a ``tunefw.Recipe``) as ``tunefw run`` does:
    its stages, its nested CV or its one experiment, every result stored; the experiment.

    ``set`` overrides fields by dotted path (``{"search.num_samples": 50}``); ``name`` and
    ``storage`` override the recipe's; ``address`` runs on a Ray cluster; ``resume``
    continues the experiment if it exists; ``progress=False`` prints nothing.
    """
    overrides = _overrides(set, name=name, storage=storage)
    summary = launch(
        recipe, overrides, _output(progress), address=address, resume=resume, overwrite=overwrite
    )
    return Experiment(summary.location)


def resume(
    name: str,
    *,
    storage: str = DEFAULT_STORAGE,
    address: str | None = None,
    restart_errored: bool = False,
    progress: bool = True,
) -> Experiment:
    """Continue a stopped or killed experiment with its searcher's state; the experiment."""
    location = find_experiment(Storage.open(storage), name)
    summary = resume_stored(
        location, _output(progress), address=address, restart_errored=restart_errored
    )
    return Experiment(summary.location)


def validate(
    recipe: RecipeSource, *, set: Mapping[str, Any] | None = None, load_data: bool = False
) -> Recipe:
    """Every check ``tunefw run`` makes before it stores anything; the validated recipe."""
    return check(recipe, _overrides(set), load_data).prepared.recipe


def load_experiment(name: str, storage: str = DEFAULT_STORAGE) -> Experiment:
    """Stored experiment ``name`` (as ``optuna.load_study`` loads a study)."""
    return Experiment.open(name, storage)


def experiments(storage: str = DEFAULT_STORAGE) -> list[Experiment]:
    """Every experiment in the storage root, by name."""
    store = Storage.open(storage)
    found = [ExperimentLocation(store, name) for name in store.directories()]
    return [Experiment(loc) for loc in found if classify(loc).kind is Kind.EXPERIMENT]


def open_results(
    storage: str,
    name: str,
    *,
    columns: Sequence[str] | None = None,
    where: str | None = None,
) -> pa.Table:
    """Every stored result of experiment ``name``, as a pyarrow Table.

    ``columns`` and ``where`` (e.g. ``"accuracy > 0.9 and kernel == rbf"``) are pushed down
    into the Parquet scan; columns may omit their ``config.``/``metric.`` prefix. Parts that
    cannot be read are skipped with a warning on the ``tunefw`` logger.
    """
    return read_table(find_experiment(Storage.open(storage), name), columns, where)


def to_pandas(table: pa.Table) -> Any:
    """The table as a pandas DataFrame."""
    return table.to_pandas()


def to_polars(table: pa.Table) -> Any:
    """The table as a polars DataFrame (polars is optional: ``pip install polars``)."""
    try:
        import polars
    except ImportError:
        raise TunefwError("to_polars needs polars: pip install polars") from None
    return polars.from_arrow(table)


def _overrides(
    fields: Mapping[str, Any] | None, *, name: str | None = None, storage: str | None = None
) -> list[str]:
    """The overrides as the CLI spells them: ``--set`` fields, then ``--name``/``--storage``
    as the exact strings given."""
    given = [Verbatim(key, value) for key, value in (fields or {}).items()]
    return [*given, *flag_overrides({"storage": storage, "name": name})]


def _output(progress: bool) -> RunOutput:
    return RunOutput("text" if progress else "quiet")
