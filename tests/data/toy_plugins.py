"""A plugin written before ``tunefw.plugin_api.capabilities``: hooks as attributes, no subclass."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class OldStyleTrainable:
    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")

    resumable = True

    def __init__(self, params: Params) -> None:
        self.params = params

    def drive(self, ctx: Any) -> None:
        """A hook the core once probed for; now ``DrivesTrials`` declares it."""

    def run(self, ctx: Any) -> None:
        ctx.report({"loss": 0.0})
