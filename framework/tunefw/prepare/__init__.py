"""A recipe made ready to run: plugins resolved, data loaded and split, the scheduler fitted
to what the trainable reports, warm-start points, budgets. No Ray Tune run starts here."""

from tunefw.moved import moved_attribute


def __getattr__(name: str) -> object:
    return moved_attribute(__name__, "tunefw.prepare.prepared", name)
