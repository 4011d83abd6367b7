"""A Ray Tune ``Searcher`` whose every suggestion is a pack of configs.

Ray Tune sees one trial per pack; the configs' source sees one trial per config: it is asked
for each config and told how each ended, from the ended configs each pack reports.
"""

from __future__ import annotations

import pickle
from typing import Any

from ray.tune.search import Searcher

from tunefw.prepare.config_sources import ConfigSource
from tunefw.prepare.pack_payload import PACK_KEY, PackedConfig, ended_in
from tunefw.store.columns import ERRORED


class PackSearcher(Searcher):
    """Suggests packs of up to ``per_pack`` configs drawn from ``source``."""

    def __init__(self, source: ConfigSource, per_pack: int, metric: str, mode: str) -> None:
        super().__init__(metric=metric, mode=mode)
        self.source = source
        self.per_pack = per_pack
        self._open: dict[str, set[str]] = {}
        """Per pack (Ray Tune trial id), its configs that have not ended yet."""

    def set_search_properties(
        self, metric: str | None, mode: str | None, config: dict[str, Any], **spec: Any
    ) -> bool:
        """The source holds the space; Ray Tune's param space is empty in lean mode."""
        return True

    def suggest(self, trial_id: str) -> dict[str, Any] | None:
        configs: list[PackedConfig] = []
        while len(configs) < self.per_pack:
            config_id = f"{trial_id}_{len(configs):03d}"
            config = self.source.next(config_id)
            if config is None:
                break
            configs.append(PackedConfig(config_id, config))
        if not configs:
            finished: Any = Searcher.FINISHED  # Ray's marker: a str where a dict is typed
            return finished if self.source.exhausted else None
        self._open[trial_id] = {c.id for c in configs}
        return {PACK_KEY: [{"id": c.id, "config": c.config} for c in configs]}

    def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
        waiting = self._open.get(trial_id, set())
        for ended in ended_in(result):
            if ended.id not in waiting:
                continue  # already told (a retried pack reports a config again)
            waiting.discard(ended.id)
            failed = ended.status == ERRORED or not ended.results
            self.source.complete(ended.id, None if failed else ended.results[-1])

    def on_trial_complete(
        self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False
    ) -> None:
        """Configs a pack never reported ended with it: as errors, for the source."""
        if result:
            self.on_trial_result(trial_id, result)
        for config_id in sorted(self._open.pop(trial_id, set())):
            self.source.complete(config_id, None)

    def save(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "wb") as f:
            pickle.dump(self.__dict__, f)

    def restore(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "rb") as f:
            self.__dict__.update(pickle.load(f))
