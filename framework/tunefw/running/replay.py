"""Plan a resumed run from the store: what is left of the search, and what to run again.

The recipe's searcher is rebuilt from its seed and taught the stored trials; the trials that
never finished run again under their own ids, from their last checkpoint; then the searcher
suggests the rest of the planned trials. Generated searches (random, grid) regenerate their
seeded configs and skip those already stored. So a resumed run ends with exactly the planned
trials, whatever moment the driver died at and whatever Ray's own snapshots hold.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import replace
from functools import partial
from typing import Any

from ray.tune.search import Searcher

from tunefw.plugin_api.capabilities import LearnsFromTrials
from tunefw.plugin_api.protocols import SearchPlan
from tunefw.prepare.config_sources import ConfigSource, SearcherSource, VariantSource
from tunefw.prepare.pack_searcher import PackSearcher
from tunefw.prepare.prepared import Prepared
from tunefw.running.compile import total_trials
from tunefw.running.rerun import rerun_config
from tunefw.store import columns as col
from tunefw.store.history import History, StoredTrial


def config_key(config: Mapping[str, Any], names: Sequence[str]) -> tuple[str, ...]:
    """A config as comparable text: stored and regenerated values of one config agree."""
    return tuple(str(config.get(name)) for name in names)


class ReplaySource:
    """Reruns first, then the base source's configs, less those stored as finished.

    ``skip`` counts the stored configs a regenerated base source hands out again; a taught
    searcher suggests only new ones, so it skips nothing.
    """

    def __init__(
        self,
        base: ConfigSource,
        reruns: Sequence[StoredTrial],
        skip: Counter[tuple[str, ...]],
        names: Sequence[str],
        total: int,
        learner: LearnsFromTrials | None = None,
    ) -> None:
        self.base = base
        self.learner = learner
        self.reruns = list(reruns)
        self.skip = skip
        self.names = list(names)
        self._total = total
        self._reruns_given: dict[str, dict[str, Any]] = {}

    def next(self, config_id: str) -> dict[str, Any] | None:
        if self.reruns:
            trial = self.reruns.pop(0)
            self._reruns_given[config_id] = trial.config
            return rerun_config(trial.config, trial.trial_id, trial.checkpoint)
        while True:
            config = self.base.next(config_id)
            if config is None:
                return None
            key = config_key(config, self.names)
            if self.skip[key] <= 0:
                return config
            self.skip[key] -= 1

    @property
    def total(self) -> int:
        return self._total

    @property
    def exhausted(self) -> bool:
        return not self.reruns and self.base.exhausted

    def complete(self, config_id: str, result: Mapping[str, Any] | None) -> None:
        rerun = self._reruns_given.pop(config_id, None)
        if rerun is None:
            self.base.complete(config_id, result)
        elif self.learner is not None:  # the searcher never suggested it: it learns of it
            self.learner.learn(rerun, result)


class ReplaySearcher(Searcher):
    """A Ray Tune ``Searcher`` over a ``ReplaySource``: one config per trial."""

    def __init__(self, source: ReplaySource, metric: str, mode: str) -> None:
        super().__init__(metric=metric, mode=mode)
        self.source = source

    def set_search_properties(
        self, metric: str | None, mode: str | None, config: dict[str, Any], **spec: Any
    ) -> bool:
        """The source holds the space; a replayed run's param space is empty."""
        return True

    def suggest(self, trial_id: str) -> dict[str, Any] | None:
        config = self.source.next(trial_id)
        if config is None and self.source.exhausted:
            finished: Any = Searcher.FINISHED  # Ray's marker: a str where a dict is typed
            return finished  # type: ignore[no-any-return]
        return config

    def on_trial_complete(
        self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False
    ) -> None:
        self.source.complete(trial_id, None if error else result)

    def on_pause(self, trial_id: str) -> None:
        """HyperBand pauses trials at its rungs; a paused trial keeps its config."""

    def on_unpause(self, trial_id: str) -> None:
        """A paused trial goes on with the config it was suggested."""


def replay_plan(
    prepared: Prepared, history: History, restart_errored: bool, new_trials: bool = True
) -> SearchPlan:
    """The plan of a resumed run: the stored trials taught, the rest of the search to run
    (only the reruns without ``new_trials``: a stop rule fired in the stored trials)."""
    rerun_statuses = (col.RUNNING, col.ERRORED) if restart_errored else (col.RUNNING,)
    reruns = history.with_status(*rerun_statuses)
    done = [t for t in history.trials if t not in reruns]
    names = sorted(prepared.plugins.space)
    settings = prepared.settings
    planned = total_trials(prepared.plan)  # as a fresh run of the recipe plans (lean: configs)
    # Warm-start points come first, so the stored trials used up the first of them.
    unused = replace(settings, initial_points=settings.initial_points[len(history.trials) :])
    strategy = prepared.plugins.search.plan(prepared.plugins.space, unused)
    left = max(planned - len(done), len(reruns)) if new_trials else len(reruns)
    learner = None
    if isinstance(strategy.search_alg, Searcher):
        searcher = strategy.search_alg
        learner = teach(searcher, history.trials)
        base: ConfigSource = SearcherSource(searcher, left - len(reruns))
        skip: Counter[tuple[str, ...]] = Counter()
    else:
        base = VariantSource(
            strategy.param_space, strategy.num_samples, settings.initial_points, settings.seed
        )
        skip = Counter(config_key(t.config, names) for t in history.trials)
    source = ReplaySource(base, reruns, skip, names, left, learner)
    metric, mode = prepared.settings.metric, prepared.settings.mode
    labels = partial(_suggested_by, {t.trial_id: t.suggested_by for t in reruns}, strategy)
    lean = prepared.recipe.lean
    if lean is None:
        searcher = ReplaySearcher(source, metric, mode)
        return SearchPlan({}, searcher, num_samples=left, suggested_by=labels)
    packs = math.ceil(left / lean.configs_per_trial)
    pack_searcher = PackSearcher(source, lean.configs_per_trial, metric, mode)
    return SearchPlan({}, pack_searcher, num_samples=packs, suggested_by=labels)


def _suggested_by(stored: Mapping[str, str | None], plan: SearchPlan, trial_id: str) -> str | None:
    """A rerun keeps the method of the trial it reruns; the rest are the new plan's."""
    if trial_id in stored:
        return stored[trial_id]
    return plan.suggested_by(trial_id) if plan.suggested_by is not None else None


def teach(searcher: Searcher, trials: Sequence[StoredTrial]) -> LearnsFromTrials | None:
    """Tell a searcher that can learn every stored trial in stored order: how each finished
    one ended, and that each unfinished one runs again; returns it, or None for a searcher
    without that capability."""
    if not isinstance(searcher, LearnsFromTrials):
        return None
    for trial in trials:
        if trial.finished:
            failed = trial.status == col.ERRORED or trial.last_result is None
            searcher.learn(trial.config, None if failed else trial.last_result)
        else:
            searcher.expect(trial.config)
    return searcher
