"""tunefw: hyperparameter tuning from a YAML recipe, on Ray Tune with ASHA, results in Parquet.

The Python API (``tunefw.run``, ``tunefw.resume``, ``tunefw.validate``, ``tunefw.load_experiment``,
``tunefw.experiments``, ``tunefw.open_results``) is imported on first use: a trial's process
or a plugin that imports ``tunefw.plugin_api.context`` does not pay for Ray Tune's driver side.
"""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

from tunefw.moved import install

install()  # the old module paths (tunefw.context, ...) for one release: tunefw.moved

try:
    __version__ = version("tunefw")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

if TYPE_CHECKING:
    from tunefw.api import (
        experiments,
        load_experiment,
        open_results,
        resume,
        run,
        to_pandas,
        to_polars,
        validate,
    )
    from tunefw.errors import TunefwError
    from tunefw.experiment import Experiment
    from tunefw.recipe.schema import Recipe

_PUBLIC = {
    "run": "tunefw.api",
    "resume": "tunefw.api",
    "validate": "tunefw.api",
    "load_experiment": "tunefw.api",
    "experiments": "tunefw.api",
    "open_results": "tunefw.api",
    "to_pandas": "tunefw.api",
    "to_polars": "tunefw.api",
    "Experiment": "tunefw.experiment",
    "Recipe": "tunefw.recipe.schema",
    "TunefwError": "tunefw.errors",
}
__all__ = [
    "Experiment",
    "Recipe",
    "TunefwError",
    "__version__",
    "experiments",
    "load_experiment",
    "open_results",
    "resume",
    "run",
    "to_pandas",
    "to_polars",
    "validate",
]


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        return getattr(import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'tunefw' has no attribute {name!r}")
