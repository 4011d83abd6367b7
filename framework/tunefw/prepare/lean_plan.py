"""Turn a strategy's search plan into a lean one: a ``PackSearcher`` over its configs."""

from __future__ import annotations

import math

from ray.tune.search import Searcher

from tunefw.errors import RecipeError
from tunefw.plugin_api.protocols import SearchPlan, SearchSettings
from tunefw.prepare.config_sources import ConfigSource, SearcherSource, VariantSource
from tunefw.prepare.pack_searcher import PackSearcher
from tunefw.recipe.scheduler_sections import Asha, NoScheduler
from tunefw.recipe.schema import Recipe


def check_lean(recipe: Recipe) -> None:
    """Lean mode keeps ASHA (its rungs shared by the packs) or no scheduler; the others
    compare or pause whole trials, which a config inside a pack is not. Ray Tune's logger
    callbacks would log packs, not configs."""
    if recipe.lean is None:
        return
    if not isinstance(recipe.scheduler, (Asha, NoScheduler)):
        raise RecipeError(
            f"lean: scheduler.type {recipe.scheduler.type} works on whole Ray Tune trials; "
            "lean mode runs with scheduler.type asha or none"
        )
    if recipe.objective.multi and isinstance(recipe.scheduler, Asha):
        raise RecipeError(
            "lean: the packs' shared rungs rank configs by one metric; lean mode with several "
            "objectives runs with scheduler.type: none"
        )
    for i, logger in enumerate(recipe.loggers):
        if not logger.per_stored_trial:
            raise RecipeError(
                f"lean: loggers[{i}]: {logger.type} sees Ray Tune trials, which in lean mode "
                "are packs of configs; drop it, or lean (tunefw report and tunefw export read "
                "every config; the optuna_journal logger writes each config)"
            )


def pack_plan(plan: SearchPlan, settings: SearchSettings, per_pack: int) -> SearchPlan:
    """The same configs as ``plan``, ``per_pack`` to a Ray Tune trial."""
    source: ConfigSource
    if isinstance(plan.search_alg, Searcher):
        source = SearcherSource(plan.search_alg, plan.num_samples)
    else:
        source = VariantSource(
            plan.param_space, plan.num_samples, settings.initial_points, settings.seed
        )
    searcher = PackSearcher(source, per_pack, settings.metric, settings.mode)
    packs = math.ceil(source.total / per_pack)
    return SearchPlan(
        param_space={}, search_alg=searcher, num_samples=packs, suggested_by=plan.suggested_by
    )
