"""``qmc``: quasi-Monte Carlo search, scrambled Sobol or Halton points (Optuna's QMCSampler).

Covers the space more evenly than random sampling at the same budget, which matters most for
small budgets. Categorical parameters are sampled at random beside the low-discrepancy
points; conditional parameters are refused, since the sequence is defined on a fixed box.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from optuna.samplers import QMCSampler
from pydantic import BaseModel, ConfigDict

from tunefw.plugin_api.protocols import SearchPlan, SearchSettings
from tunefw.recipe.space import ParamSpec
from tunefw_plugins.search._optuna import optuna_plan, refuse_conditional


class QmcSearch:
    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")

        sequence: Literal["sobol", "halton"] = "sobol"
        scramble: bool = True

    def __init__(self, params: Params) -> None:
        self.params = params

    def plan(self, space: Mapping[str, ParamSpec], settings: SearchSettings) -> SearchPlan:
        refuse_conditional(space, "qmc", "the sequence covers a fixed box")
        sampler = QMCSampler(
            qmc_type=self.params.sequence,
            scramble=self.params.scramble,
            seed=settings.seed,
            warn_asynchronous_seeding=False,
            warn_independent_sampling=False,
        )
        return optuna_plan(space, settings, sampler, "qmc")
