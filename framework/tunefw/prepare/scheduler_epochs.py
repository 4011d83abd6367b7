"""A scheduler over epochs: a trainable that reports once per epoch and knows how many
(``ReportsEpochs``) gives a halving scheduler its ``max_t`` and ASHA its grace period.

A ``max_t`` left out becomes the epochs: the default, 100, puts rungs where no trial of 12
epochs arrives. A ``grace_period`` left out becomes a tenth of ``max_t``, at least 1: a network
judged after one epoch is judged on its noisiest figure (the digits CNN of
docs/benchmarks.md lost 0.56 points of best accuracy with a grace of 1, none with 2, for 6.0x
and 3.7x fewer epochs). Values the recipe gives are kept; a space that tunes the epochs
leaves the section as written.
"""

from __future__ import annotations

from typing import Any

from tunefw.errors import RecipeError
from tunefw.prepare.scheduler_folds import HALVING
from tunefw.recipe.scheduler_sections import Asha, SchedulerSection


def fit_to_epochs(
    section: SchedulerSection, epochs: int | None, who: str
) -> tuple[SchedulerSection, str | None]:
    """``section`` with ``max_t`` and ASHA's ``grace_period`` derived where left out, and the
    note saying so; ``epochs`` is the most a trial trains (None: the space tunes them),
    ``who`` names the trainable (``the torch trainable``)."""
    if epochs is None or not isinstance(section, HALVING):
        return section, None
    given = section.model_fields_set
    update: dict[str, Any] = {}
    if "max_t" not in given:
        update["max_t"] = epochs
    max_t = update.get("max_t", section.max_t)
    if isinstance(section, Asha) and "grace_period" not in given:
        update["grace_period"] = max(1, max_t // 10)
    elif isinstance(section, Asha) and section.grace_period > max_t:
        raise RecipeError(
            f"scheduler.grace_period: {section.grace_period}, but {who} trains {max_t} "
            f"epochs; set it to at most {max_t}"
        )
    if not update:
        return section, None
    fitted = type(section).model_validate(section.model_dump(exclude_unset=True) | update)
    why = {"max_t": f"the epochs {who} trains", "grace_period": "a tenth of max_t, in epochs"}
    return fitted, "; ".join(
        f"scheduler.{key} set to {value}, {why[key]}" for key, value in update.items()
    )
