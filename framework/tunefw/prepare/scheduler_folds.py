"""A scheduler over folds: a trainable that reports once per validation split
(``ReportsOncePerSplit``) counts folds as iterations, so ``max_t`` is the number of splits.

With a larger ``max_t`` no trial reaches the top rungs; with a smaller one every trial is
scored on its first folds only. So a ``max_t`` left out is set to the number of splits (and
a note says so), and a different one is refused, as is a ``grace_period`` past the last fold.
"""

from __future__ import annotations

from collections.abc import Sequence

from tunefw.errors import RecipeError
from tunefw.recipe.scheduler_sections import Asha, Bohb, HyperBand, Median, SchedulerSection

HALVING = (Asha, HyperBand, Bohb)
"""The schedulers with a ``max_t``."""


def fit_to_splits(
    section: SchedulerSection, split_counts: Sequence[int], who: str
) -> tuple[SchedulerSection, str | None]:
    """``section`` with ``max_t`` set to the number of splits where it was left out, and the
    note saying so; ``split_counts`` has one count per experiment of the run (nested CV has
    several), ``who`` names the trainable (``the sklearn trainable``)."""
    if not isinstance(section, (*HALVING, Median)):
        return section, None
    counts = sorted(set(split_counts))
    if len(counts) > 1:
        raise RecipeError(
            f"scheduler.type: {section.type} counts the folds {who} reports, but the "
            f"experiments of this nested CV have {' or '.join(map(str, counts))} splits; give "
            "validation.inner a fixed number of folds, or use scheduler.type: none"
        )
    splits = counts[0]
    plural = "" if splits == 1 else "s"
    given = f"{who} reports once per fold and validation gives {splits} split{plural}"
    if isinstance(section, (Asha, Median)) and section.grace_period > splits:
        raise RecipeError(
            f"scheduler.grace_period: {section.grace_period}, but {given}; set it to at most "
            f"{splits}"
        )
    if isinstance(section, Median):
        return section, None
    if "max_t" in section.model_fields_set:
        if section.max_t != splits:
            raise RecipeError(
                f"scheduler.max_t: {section.max_t}, but {given}; set scheduler.max_t: "
                f"{splits} (or leave it out)"
            )
        return section, None
    given_fields = section.model_dump(exclude_unset=True)
    fitted = type(section).model_validate(given_fields | {"max_t": splits})
    return fitted, f"scheduler.max_t set to {splits}, the folds {who} reports"
