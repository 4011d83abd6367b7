"""Everything that happens to a recipe before Ray starts: plugins, warm start, checks, plan."""

from __future__ import annotations

from dataclasses import dataclass, replace

from tunefw.errors import RecipeError
from tunefw.plugin_api.capabilities import (
    ChecksTrainable,
    ReportsEpochs,
    ReportsOncePerSplit,
    Resumable,
)
from tunefw.plugin_api.imports import import_callable
from tunefw.plugin_api.protocols import SearchPlan, SearchSettings
from tunefw.plugin_api.resolve import ResolvedPlugins, resolve
from tunefw.prepare.data import SharedData, share_data
from tunefw.prepare.lean_plan import check_lean, pack_plan
from tunefw.prepare.nested_folds import OuterFold, is_nested_validation, outer_folds
from tunefw.prepare.scheduler_epochs import fit_to_epochs
from tunefw.prepare.scheduler_folds import fit_to_splits
from tunefw.prepare.scheduler_pairing import check_pairing
from tunefw.prepare.warm_start import warm_start_points
from tunefw.recipe.schema import Recipe, WarmStart


@dataclass(frozen=True)
class Prepared:
    """A validated recipe with its plugins and search plan, ready to compile."""

    recipe: Recipe
    """The recipe as it runs: what preparing derived (a scheduler's ``max_t``) is in it."""
    plugins: ResolvedPlugins
    plan: SearchPlan
    shared: SharedData | None
    settings: SearchSettings
    outer: tuple[OuterFold, ...] = ()
    """Nested CV's outer folds, made when the data was loaded."""
    notes: tuple[str, ...] = ()
    """What preparing changed in the recipe, for the CLI to say once."""

    def replanned(self, shared: SharedData | None) -> Prepared:
        """The same recipe on other data, with a fresh search plan (a searcher runs once)."""
        plan = make_plan(self.recipe, self.plugins, self.settings)
        return replace(self, plan=plan, shared=shared, outer=())

    def warm_started(self, warm: WarmStart) -> Prepared:
        """The same plugins and data, seeded with ``warm``'s best configs: the warm start a
        stage gets once the stage before it has run."""
        search = self.recipe.search.model_copy(update={"warm_start": warm})
        recipe = self.recipe.model_copy(update={"search": search})
        points = warm_start_points(recipe, self.plugins.space)
        settings = replace(self.settings, initial_points=points)
        plan = make_plan(recipe, self.plugins, settings)
        return replace(self, recipe=recipe, plan=plan, settings=settings)


def make_plan(recipe: Recipe, plugins: ResolvedPlugins, settings: SearchSettings) -> SearchPlan:
    """The strategy's plan, packed ``lean.configs_per_trial`` to a Ray Tune trial if asked."""
    plan = plugins.search.plan(plugins.space, settings)
    if recipe.lean is None:
        return plan
    return pack_plan(plan, settings, recipe.lean.configs_per_trial)


def prepare_recipe(recipe: Recipe, load_data: bool = True) -> Prepared:
    """Resolve the plugins, run every check, make the search plan.

    With ``load_data``, also call the data loader, split the data and run the checks that need
    it; without, no user code runs beyond importing the modules the recipe names.
    """
    plugins = resolve(recipe)
    return prepare_with(recipe, plugins, shared_data(recipe, plugins, load_data))


def shared_data(recipe: Recipe, plugins: ResolvedPlugins, load_data: bool) -> SharedData | None:
    """The data loaded and split; without ``load_data``, None once the loader is found
    (imported, not called)."""
    if load_data:
        return share_data(recipe.data, plugins.validation)
    if recipe.data is not None:
        import_callable(recipe.data.loader, "data.loader")
    return None


def prepare_with(recipe: Recipe, plugins: ResolvedPlugins, shared: SharedData | None) -> Prepared:
    """``prepare_recipe`` on plugins already resolved and data already loaded (or None)."""
    nested = is_nested_validation(plugins.validation)
    if nested and recipe.data is None:
        raise RecipeError("validation: nested cross-validation needs a data section")
    outer = outer_folds(plugins.validation, shared.data) if nested and shared else ()
    plugins.trainable.check(plugins.space, recipe.objective.metric_fields(), plugins.regularizers)
    if isinstance(plugins.search, ChecksTrainable):
        data = shared.data if shared else None
        plugins.search.check_trainable(plugins.trainable, plugins.space, plugins.regularizers, data)
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
        resumable=isinstance(plugins.trainable, Resumable),
    )
    _check_fold_noise(recipe, plugins, shared)
    recipe, notes = _fitted_scheduler(recipe, plugins, shared, outer)
    return Prepared(recipe, plugins, plan, shared, settings, outer, notes)


def _check_fold_noise(recipe: Recipe, plugins: ResolvedPlugins, shared: SharedData | None) -> None:
    """``stop.converged`` reads its noise floor from the folds unless told otherwise: the
    trainable must score each fold, and validation give two or more."""
    converged = recipe.stop.converged if recipe.stop else None
    if converged is None or converged.noise != "folds":
        return
    few = shared is not None and len(shared.splits) < 2
    if not isinstance(plugins.trainable, ReportsOncePerSplit) or few:
        raise RecipeError(
            f"stop.converged: the noise floor comes from fold scores, but the "
            f"{recipe.trainable.kind} trainable with {recipe.validation.strategy} validation "
            "reports one score per trial; use k-fold validation with the sklearn trainable, or "
            "give stop.converged.noise: a value (or `repeats`)"
        )


def _fitted_scheduler(
    recipe: Recipe,
    plugins: ResolvedPlugins,
    shared: SharedData | None,
    outer: tuple[OuterFold, ...],
) -> tuple[Recipe, tuple[str, ...]]:
    """The recipe with its scheduler fitted to what the trainable's iterations are: folds
    (``max_t`` the number of splits) or epochs (``max_t`` the epochs, ASHA's grace a tenth);
    with the notes saying what was set. A recipe with stages is left as written: each stage
    is fitted to its own."""
    trainable = plugins.trainable
    if recipe.stages:
        return recipe, ()
    who = f"the {recipe.trainable.kind} trainable"
    section, notes = recipe.scheduler, []
    if shared is not None and isinstance(trainable, ReportsOncePerSplit):
        counts = [len(shared.splits), *(len(fold.inner) for fold in outer)]
        section, note = fit_to_splits(section, counts, who)
        notes.append(note)
    if isinstance(trainable, ReportsEpochs):
        section, note = fit_to_epochs(section, trainable.epochs(plugins.space), who)
        notes.append(note)
    fitted = recipe.model_copy(update={"scheduler": section})
    return fitted, tuple(note for note in notes if note is not None)
