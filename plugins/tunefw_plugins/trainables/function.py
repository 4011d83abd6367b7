"""``function``: a user's ``module:function(config, ctx)``.

The function trains and calls ``ctx.report({...})`` once per step; or it returns a mapping
of metrics, reported once as its final result.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from tunefw.errors import RecipeError
from tunefw.plugin_api.capabilities import Resumable
from tunefw.plugin_api.context import TrialContext
from tunefw.plugin_api.imports import import_callable
from tunefw.plugin_api.protocols import Regularizer
from tunefw.recipe.objective import check_reported
from tunefw.recipe.space import ParamSpec


class FunctionTrainable(Resumable):
    """The user's ``function(config, ctx)``. It gets ``ctx.restored``, and must resume from it
    to run under pausing schedulers."""

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")

        function: str = Field(description="Import path 'module:function', called (config, ctx).")
        metrics: list[str] | None = Field(
            None, description="The metrics it reports, so a wrong objective fails before running."
        )

    def __init__(self, params: Params) -> None:
        self.params = params

    def check(
        self,
        space: Mapping[str, ParamSpec],
        metrics: Mapping[str, str],
        regularizers: Sequence[Regularizer],
    ) -> None:
        import_callable(self.params.function, "trainable.function")
        declared = self.params.metrics
        if declared is not None:
            listed = f"trainable.metrics: {', '.join(declared)}"
            check_reported(metrics, declared.__contains__, "the trainable", listed)

    def run(self, ctx: TrialContext) -> None:
        fn = import_callable(self.params.function, "trainable.function")
        out: Any = fn(dict(ctx.config), ctx)
        if isinstance(out, Mapping):
            ctx.report(out)
        elif ctx.reports == 0 and ctx.restored is None:  # a restored trial may be done
            raise RecipeError(
                f"trainable.function: {self.params.function} reported nothing: call "
                "ctx.report({...}) or return a mapping of metrics"
            )
