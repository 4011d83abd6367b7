"""Ray Tune's W&B callback, failing on one line. Imported only for a ``wandb`` logger: it
imports ``wandb``."""

from __future__ import annotations

import os
from typing import Any

from ray.air.integrations.wandb import WandbLoggerCallback

from tunefw.running.loggers.setup_errors import one_line

_MODE = "WANDB_MODE"


class WandbCallback(WandbLoggerCallback):
    """``WandbLoggerCallback`` whose setup fails on one line naming ``field``.

    Ray's setup asks for an API key unless ``WANDB_MODE`` is offline or disabled; here the
    recipe's ``mode`` counts as well. The ``dir`` W&B writes to is created first (the logging
    actors run on this node).
    """

    def __init__(self, field: str, **options: Any) -> None:
        super().__init__(**options)
        self.field = field

    def setup(self, *args: Any, **kwargs: Any) -> None:
        mode = str(self.kwargs.get("mode"))
        offline = mode in ("offline", "disabled") and _MODE not in os.environ
        if offline:
            os.environ[_MODE] = mode
        try:
            with one_line(self.field, "wandb"):
                if self.kwargs.get("dir"):
                    os.makedirs(self.kwargs["dir"], exist_ok=True)
                super().setup(*args, **kwargs)  # type: ignore[no-untyped-call]
        finally:
            if offline:
                del os.environ[_MODE]
