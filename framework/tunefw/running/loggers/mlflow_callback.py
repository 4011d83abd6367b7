"""Ray Tune's MLflow callback, failing on one line. Imported only for an ``mlflow`` logger."""

from __future__ import annotations

from typing import Any

from ray.air.integrations.mlflow import MLflowLoggerCallback

from tunefw.running.loggers.setup_errors import one_line


class MlflowCallback(MLflowLoggerCallback):
    """``MLflowLoggerCallback`` whose setup (reaching the tracking store) fails on one line
    naming ``field``."""

    def __init__(self, field: str, tracking_uri: str | None, **options: Any) -> None:
        super().__init__(tracking_uri, **options)
        self.field = field

    def setup(self, *args: Any, **kwargs: Any) -> None:
        with one_line(self.field, "mlflow"):
            super().setup(*args, **kwargs)  # type: ignore[no-untyped-call]
