"""``tunefw report`` and ``tunefw export``: an experiment as an HTML page or an Optuna study.

``trials`` reads the store into one ``Trial`` per trial; ``study`` turns those into an Optuna
study (exported as a journal file, and fitted by ``importance``); ``payoff`` puts the best
score against the compute spent; ``figures`` draws the plots and ``page`` assembles them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Skipped:
    """A plot that does not apply to this experiment, and why: the page shows the reason."""

    reason: str
