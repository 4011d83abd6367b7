"""A run of several experiments (stages, nested CV's outer folds) checks every name it will
write before the first starts, so a taken name is refused before anything ran or changed."""

from __future__ import annotations

from collections.abc import Iterable

from tunefw.errors import StoreError
from tunefw.store.layout import ExperimentLocation


def refuse_taken(locations: Iterable[ExperimentLocation], overwrite: bool) -> None:
    """Refuse the first experiment of ``locations`` that exists, unless ``overwrite``."""
    if overwrite:
        return
    for location in locations:
        if location.exists():
            raise StoreError(
                f"experiment {location.name!r} already exists in {location.storage.display}, "
                "and this run writes it; --overwrite replaces it"
            )
