"""Error text recorded for failed trials."""

from __future__ import annotations

import re

from ray.tune.experiment import Trial

MAX_ERROR_CHARS = 20_000
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def trial_error_text(trial: Trial) -> str:
    """The error Ray Tune recorded for ``trial``: the traceback, as Ray wrote it."""
    path = trial.error_file if trial.storage is not None else None  # a stub trial has none
    if not path:
        return "trial failed without an error file"
    try:
        with open(path) as f:
            text = f.read()
    except OSError as exc:
        return f"error file {path} unreadable: {exc.strerror}"
    return _ANSI.sub("", text)[-MAX_ERROR_CHARS:]
