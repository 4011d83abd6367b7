"""Which schedulers work with which search, objective and trainable: checked when a recipe is
prepared, before anything runs."""

from __future__ import annotations

from ray.tune.search.basic_variant import BasicVariantGenerator

from tunefw.errors import RecipeError
from tunefw.plugin_api.protocols import SearchPlan
from tunefw.recipe.objective import Objective
from tunefw.recipe.scheduler_sections import Bohb, Pbt, SchedulerSection


def check_pairing(
    section: SchedulerSection,
    strategy: str,
    plan: SearchPlan,
    objective: Objective,
    resumable: bool,
) -> None:
    """Refuse a scheduler that cannot work with the search, objective or trainable."""
    kind = section.type
    if objective.multi and kind not in ("asha", "none"):
        raise RecipeError(
            f"scheduler.type: {kind} stops or pauses trials by one metric; a multi-objective "
            "search (objective.metrics) runs with scheduler.type: asha (ranking by every "
            "objective) or none"
        )
    if isinstance(section, Bohb) and not callable(getattr(plan.search_alg, "on_pause", None)):
        raise RecipeError(
            f"scheduler.type: bohb fills HyperBand's brackets from a model-based searcher; "
            f"search.strategy {strategy} is not one (use bayesian)"
        )
    if isinstance(section, Pbt) and not isinstance(plan.search_alg, BasicVariantGenerator):
        raise RecipeError(
            f"scheduler.type: pbt explores by mutating running trials itself, which conflicts "
            f"with search.strategy {strategy}'s suggestions; use random or grid"
        )
    if section.pauses and not resumable:
        raise RecipeError(
            f"scheduler.type: {kind} pauses trials and resumes them from checkpoints, which "
            "this trainable does not write; use asha or median"
        )
