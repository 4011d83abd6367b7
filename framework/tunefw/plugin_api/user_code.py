"""Call code a recipe names (a data loader, an estimator, a module being imported) on the driver.

Whatever it raises, exits with or runs out of becomes one ``RecipeError`` naming the recipe field
and the code, so a user's bug reads like any other bad input: one line, exit 2, before Ray
starts. Without this, a loader's ``sys.exit(0)`` ended ``tunefw run`` with exit 0 and no output.
Ctrl-C (``KeyboardInterrupt``) still stops the command, and a ``TunefwError`` (a loader refusing
its params) passes through as it is.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ParamSpec, TypeVar

from tunefw.errors import RecipeError, TunefwError, describe, printable

P = ParamSpec("P")
T = TypeVar("T")


def call_user(field: str, what: str, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """``fn(*args, **kwargs)``; a failure is ``RecipeError("{field}: {what} <what happened>")``.

    The error is raised outside the ``except`` block, with no link to the failure, so that the
    user code's frames, and whatever memory they hold, are released before it is shown.
    """
    try:
        return fn(*args, **kwargs)
    except TunefwError:
        raise
    except SystemExit as exc:
        happened = f"called sys.exit({printable(repr(exc.code)) if exc.code is not None else ''})"
    except MemoryError:
        happened = "ran out of memory (MemoryError)"
    except Exception as exc:  # any bug in user code: the point is to name it in one line
        happened = f"raised {describe(exc)}"
    raise RecipeError(f"{field}: {what} {happened}")
