"""A pack, in its trial's worker: each config in turn, ASHA asked at every result.

A config's results are kept in the worker until it ends, then sent on with ``tune.report``
(batched: at most one report per ``flush_s`` seconds, and one at the end), so Ray Tune
handles a handful of results per pack instead of one per config step.
"""

from __future__ import annotations

import math
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import ray
from ray import tune

from tunefw.errors import MetricError
from tunefw.plugin_api.context import Reporter
from tunefw.prepare.pack_payload import DONE_KEY, EndedConfig, PackedConfig
from tunefw.running.rung_board import CONTINUE, TIME_ATTR
from tunefw.running.trial_errors import MAX_ERROR_CHARS
from tunefw.store.columns import ERRORED, TERMINATED

Evaluate = Callable[[dict[str, Any], Reporter], None]
"""Runs one config, reporting each of its results through the given reporter."""


class _ConfigEnded(BaseException):
    """Raised out of ``ctx.report`` when ASHA stops the config; a BaseException, so a
    trainable's ``except Exception`` does not swallow it."""

    def __init__(self, status: str) -> None:
        self.status = status


class PackRunner:
    """Runs a pack's configs one after another against the shared ``board``."""

    def __init__(
        self,
        board: Any,
        metric: str,
        *,
        tags: Mapping[str, Any],
        flush_s: float = 1.0,
    ) -> None:
        self.board = board
        self.metric = metric
        self.milestones: list[float] = []
        """Where ASHA may decide (none without ASHA): the only results the board sees."""
        self.tags = dict(tags)
        """Keys added to every result (node and GPU ids), as for an ordinary trial."""
        self.flush_s = flush_s

    def run(self, pack: Sequence[PackedConfig], evaluate: Evaluate) -> None:
        ids = [c.id for c in pack]
        stored, self.milestones = ray.get(
            [self.board.stored.remote(ids), self.board.milestones.remote()]
        )
        ended: list[EndedConfig] = []
        last_flush = time.monotonic()
        for item in pack:
            if item.id in stored:
                continue  # a retried pack: this one reached the driver before
            ended.append(self._evaluate(item, evaluate))
            if time.monotonic() - last_flush >= self.flush_s:
                self._send(ended)
                ended, last_flush = [], time.monotonic()
        if ended:
            self._send(ended)

    def _evaluate(self, item: PackedConfig, evaluate: Evaluate) -> EndedConfig:
        ended = EndedConfig(item.id, item.config)
        started = time.monotonic()
        ahead = iter(self.milestones)
        next_milestone = next(ahead, math.inf)

        def report(metrics: dict[str, Any], state: Any) -> None:
            """``state`` is not checkpointed: a cheap config is evaluated again, not resumed."""
            iteration = len(ended.results) + 1
            elapsed = time.monotonic() - started
            ended.results.append(
                {**metrics, **self.tags, TIME_ATTR: iteration, "time_total_s": elapsed}
            )
            nonlocal next_milestone
            if iteration >= next_milestone:
                while next_milestone <= iteration:
                    next_milestone = next(ahead, math.inf)
                value = metrics[self.metric]
                decision = ray.get(self.board.decide.remote(item.id, iteration, value))
                if decision != CONTINUE:
                    raise _ConfigEnded(decision)

        try:
            evaluate(item.config, report)
            ended.status = TERMINATED
        except _ConfigEnded as stop:
            ended.status = stop.status
        except MetricError:
            raise  # the recipe is wrong: every config would fail alike, so the run ends
        except Exception:
            ended.status = ERRORED
            ended.error = traceback.format_exc()[-MAX_ERROR_CHARS:]
        if self.milestones and ended.status != ERRORED and ended.results:
            last = ended.results[-1]
            self.board.end.remote(item.id, last[TIME_ATTR], last[self.metric])
        return ended

    def _send(self, ended: list[EndedConfig]) -> None:
        """Report the ended configs; once Ray Tune has taken them, the board knows."""
        values = [c.results[-1][self.metric] for c in ended if c.results]
        value = values[-1] if values else math.nan  # Ray Tune wants the metric in every result
        tune.report({self.metric: value, DONE_KEY: [c.to_dict() for c in ended]})
        self.board.mark_stored.remote([c.id for c in ended])
