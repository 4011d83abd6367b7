"""Start gates: what stops a run from starting trials before its search is done.

A spent budget (``BudgetMeter``) and a fired stop rule (``StudyMonitor``) are gates; ``Gated``
wraps the run's search algorithm and hands out no trial once any gate is closed. The trials
already running finish, or under ASHA stop at their next rung (``EndsWithTheStudy``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from ray.tune.search import ConcurrencyLimiter, SearchAlgorithm, Searcher, SearchGenerator


class StartGate(Protocol):
    def closed(self) -> str | None:
        """What closed the gate, as the recipe field that says so; None while it is open."""
        ...


def closed_by(gates: Sequence[StartGate]) -> str | None:
    """The first closed gate's reason, or None."""
    return next((reason for gate in gates if (reason := gate.closed()) is not None), None)


class Gated(SearchAlgorithm):
    """A search algorithm that starts no trial once one of ``gates`` is closed."""

    def __init__(self, inner: SearchAlgorithm, gates: Sequence[StartGate]) -> None:
        self.inner = inner
        self.gates = list(gates)

    def __getattr__(self, name: str) -> Any:  # e.g. ``searcher``, which BOHB pauses through
        return getattr(self.__dict__["inner"], name)

    @property
    def metric(self) -> Any:
        return self.inner.metric

    @property
    def total_samples(self) -> int:
        return int(self.inner.total_samples)

    def set_search_properties(
        self, metric: Any, mode: Any, config: dict[str, Any], **spec: Any
    ) -> bool:
        return bool(self.inner.set_search_properties(metric, mode, config, **spec))

    def add_configurations(self, experiments: Any) -> None:
        self.inner.add_configurations(experiments)

    def next_trial(self) -> Any:
        if closed_by(self.gates):
            return None
        return self.inner.next_trial()

    def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
        self.inner.on_trial_result(trial_id, result)

    def on_trial_complete(
        self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False
    ) -> None:
        self.inner.on_trial_complete(trial_id, result=result, error=error)

    def is_finished(self) -> bool:
        return bool(closed_by(self.gates)) or bool(self.inner.is_finished())

    def set_finished(self) -> None:
        self.inner.set_finished()  # type: ignore[no-untyped-call]

    def has_checkpoint(self, dirpath: str) -> bool:
        return bool(self.inner.has_checkpoint(dirpath))

    def save_to_dir(self, dirpath: str, **kwargs: Any) -> None:
        self.inner.save_to_dir(dirpath, **kwargs)

    def restore_from_dir(self, dirpath: str) -> None:
        self.inner.restore_from_dir(dirpath)


def gated(search_alg: Any, max_concurrent: int | None, gates: Sequence[StartGate]) -> Gated:
    """``search_alg`` as Ray Tune would wrap it (a limited Searcher becomes a generator),
    then gated."""
    if isinstance(search_alg, Searcher):
        limited = ConcurrencyLimiter(search_alg, max_concurrent) if max_concurrent else search_alg
        search_alg = SearchGenerator(limited)
    return Gated(search_alg, gates)
