"""Experiment-tracking loggers: the callbacks the recipe's ``loggers`` sections build
(``tunefw.recipe.logger_sections``), and the check that each one's package is installed.

Parquet stays the record; a logger sends the same results to TensorBoard, MLflow or W&B too.
Each logger's package is checked on the driver when the experiment is compiled (so by
``tunefw validate``), not when the recipe is parsed: trial workers parse the recipe as well,
and need none of these packages.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence

from ray.tune import Callback

from tunefw.errors import RecipeError
from tunefw.recipe.logger_sections import LoggedRun, LoggerSection


def check_installed(loggers: Sequence[LoggerSection]) -> None:
    """A one-line ``RecipeError`` naming the first logger whose package is missing."""
    for i, logger in enumerate(loggers):
        if importlib.util.find_spec(logger.module) is None:
            raise RecipeError(
                f"loggers[{i}].type: {logger.type} needs the {logger.package} package: "
                f"pip install {logger.package}"
            )


def logger_callbacks(loggers: Sequence[LoggerSection], run: LoggedRun) -> list[Callback]:
    """Ray Tune's callback for each logger. A logger whose package is missing, or that cannot
    start when the run does, is a one-line ``RecipeError`` naming its entry."""
    check_installed(loggers)
    return [logger.callback(run, f"loggers[{i}]") for i, logger in enumerate(loggers)]
