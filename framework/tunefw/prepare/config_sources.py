"""Where a pack's configs come from: the plan's Searcher, or Ray's variant generation.

A model-based searcher is asked once per config and told each config's final result, as Ray
Tune would for a trial of its own. A plain plan (random or grid over a Ray param space) has
its configs generated up front, in the order Ray's ``BasicVariantGenerator`` would give
them: the warm-start points first, then ``num_samples`` passes over the space, seeded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np
from ray.tune.search import Searcher
from ray.tune.search.variant_generator import generate_variants


class ConfigSource(Protocol):
    """Hands out configs one at a time and hears how each one ended."""

    def next(self, config_id: str) -> dict[str, Any] | None:
        """The next config, stored under ``config_id``; None when there is none to give now."""
        ...

    @property
    def total(self) -> int:
        """How many configs it hands out in all."""
        ...

    @property
    def exhausted(self) -> bool:
        """True once every config has been handed out."""
        ...

    def complete(self, config_id: str, result: Mapping[str, Any] | None) -> None:
        """Config ``config_id`` ended with ``result`` (its last one), or errored (None)."""
        ...


class SearcherSource:
    """Configs from a Ray Tune ``Searcher``, at most ``total`` of them."""

    def __init__(self, searcher: Searcher, total: int) -> None:
        self.searcher = searcher
        self._total = total
        self.given = 0
        self._finished = False

    def next(self, config_id: str) -> dict[str, Any] | None:
        if self.exhausted:
            return None
        config: Any = self.searcher.suggest(config_id)
        if config == Searcher.FINISHED:
            self._finished = True
            return None
        if config is not None:
            self.given += 1
        return config  # type: ignore[no-any-return]

    @property
    def total(self) -> int:
        return self._total

    @property
    def exhausted(self) -> bool:
        return self._finished or self.given >= self.total

    def complete(self, config_id: str, result: Mapping[str, Any] | None) -> None:
        if result is None:
            self.searcher.on_trial_complete(config_id, error=True)
        else:
            self.searcher.on_trial_complete(config_id, result=dict(result))


class VariantSource:
    """Configs generated from a Ray param space, as ``BasicVariantGenerator`` generates them.

    Materialized as a list, so the source pickles with the experiment for ``tunefw resume``.
    """

    def __init__(
        self,
        param_space: Mapping[str, Any],
        num_samples: int,
        points: Sequence[Mapping[str, Any]] = (),
        seed: int | None = None,
    ) -> None:
        rng = np.random.default_rng(seed)  # one stream across the passes
        spec = {"config": dict(param_space)}
        configs = []
        for point in points:  # the rest of the space sampled, its grids crossed, as Ray does
            rest = {"config": {k: v for k, v in param_space.items() if k not in point}}
            variants = generate_variants(rest, random_state=rng)
            configs += [{**v["config"], **point} for _, v in variants]
        for _ in range(max(num_samples - len(points), 0)):
            configs += [v["config"] for _, v in generate_variants(spec, random_state=rng)]
        self.configs = configs
        self.given = 0

    def next(self, config_id: str) -> dict[str, Any] | None:
        if self.exhausted:
            return None
        self.given += 1
        return dict(self.configs[self.given - 1])

    @property
    def total(self) -> int:
        return len(self.configs)

    @property
    def exhausted(self) -> bool:
        return self.given >= self.total

    def complete(self, config_id: str, result: Mapping[str, Any] | None) -> None:
        """Generated configs do not depend on results."""
