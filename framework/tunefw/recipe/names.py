"""What an experiment may be called: checked in the recipe and again for every name the store
reads from disk or the command line."""

from __future__ import annotations

import re

EXPERIMENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
