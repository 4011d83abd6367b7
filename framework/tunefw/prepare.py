"""Everything that happens to a recipe before Ray starts: plugins, warm start, checks, plan."""

from __future__ import annotations

from dataclasses import dataclass

from tunefw.data import SharedData, share_data
from tunefw.lean.plan import check_lean, pack_plan
from tunefw.plugins import ResolvedPlugins, resolve
from tunefw.protocols import SearchPlan, SearchSettings
from tunefw.recipe import Recipe
from tunefw.scheduler import check_pairing
from tunefw.warm_start import warm_start_points


@dataclass(frozen=True)
class Prepared:
    """A validated recipe with its plugins and search plan, ready to compile."""

    recipe: Recipe
    plugins: ResolvedPlugins
    plan: SearchPlan
    shared: SharedData | None
    settings: SearchSettings

    def replanned(self, shared: SharedData | None) -> Prepared:
        """The same recipe on other data, with a fresh search plan (a searcher runs once)."""
        plan = make_plan(self.recipe, self.plugins, self.settings)
        return Prepared(self.recipe, self.plugins, plan, shared, self.settings)


def make_plan(recipe: Recipe, plugins: ResolvedPlugins, settings: SearchSettings) -> SearchPlan:
    """The strategy's plan, packed ``lean.configs_per_trial`` to a Ray Tune trial if asked."""
    plan = plugins.search.plan(plugins.space, settings)
    if recipe.lean is None:
        return plan
    return pack_plan(plan, settings, recipe.lean.configs_per_trial)


def prepare_recipe(recipe: Recipe) -> Prepared:
    """Resolve the plugins, load and split the data, run every check, make the search plan."""
    plugins = resolve(recipe)
    shared = share_data(recipe.data, plugins.validation)
    plugins.trainable.check(plugins.space, recipe.objective.metric_fields(), plugins.regularizers)
    check_trainable = getattr(plugins.search, "check_trainable", None)
    if check_trainable is not None:
        data = shared.data if shared else None
        check_trainable(plugins.trainable, plugins.space, plugins.regularizers, data)
    settings = SearchSettings(
        num_samples=recipe.search.num_samples,
        max_concurrent=recipe.search.max_concurrent,
        seed=recipe.search.seed,
        metric=recipe.objective.metric,
        mode=recipe.objective.mode,
        initial_points=warm_start_points(recipe, plugins.space),
        objectives=recipe.objective.metrics,
        constraints=tuple(recipe.objective.constraints),
    )
    plan = make_plan(recipe, plugins, settings)
    check_lean(recipe)
    check_pairing(
        recipe.scheduler,
        recipe.search.strategy,
        plan,
        recipe.objective,
        resumable=getattr(plugins.trainable, "resumable", False),
    )
    return Prepared(recipe, plugins, plan, shared, settings)
