"""The study monitor: a Ray Tune callback that hands each finished trial to the stop rules'
judges and keeps the first verdict; the run's search stops starting trials once it has one.

On resume it is first given the stored trials, in the order they finished, so the rules
resume with the evidence they had: a study whose rule had fired starts no new trial.
"""

from __future__ import annotations

from collections.abc import Container, Mapping, Sequence
from typing import Any

from tunefw.recipe.objective import Objective
from tunefw.recipe.space import ParamSpec
from tunefw.recipe.stop_sections import StopSection
from tunefw.running.stopping.evidence import Evidence, finished_trial
from tunefw.running.stopping.judges import Judge, Verdict, judges
from tunefw.running.trial_events import TrialEvents
from tunefw.store import columns as col
from tunefw.store.history import StoredTrial


class StudyMonitor(TrialEvents):
    def __init__(
        self,
        section: StopSection,
        objective: Objective,
        space: Mapping[str, ParamSpec],
        seed: int | None,
        early_stopped: Container[str],
    ) -> None:
        super().__init__(early_stopped)
        self.evidence = Evidence(objective)
        self.judges: list[Judge] = judges(section, objective, space, seed or 0)
        self.verdict: Verdict | None = None
        """The first rule that fired, live or in the stored trials."""
        self._fired_live = False
        self._results: dict[str, list[Mapping[str, Any]]] = {}

    def replay(self, trials: Sequence[StoredTrial]) -> None:
        """Judge the stored finished trials, in the order they finished. A verdict found here
        leaves the gate open: the resumed run is planned without new trials instead, so the
        trials that never finished still run again (``replay_plan``)."""
        for trial in sorted((t for t in trials if t.finished), key=lambda t: t.ended):
            completed = trial.status == col.TERMINATED
            self._judge(trial.trial_id, trial.config, trial.results, completed)

    def closed(self) -> str | None:
        """The rule that fired in this run, or None: a start gate (``running.start_gate``)."""
        if not self._fired_live or self.verdict is None:
            return None
        return f"stop.{self.verdict.rule}"

    def trial_reported(
        self, trial_id: str, config: Mapping[str, Any], result: Mapping[str, Any]
    ) -> None:
        self._results.setdefault(trial_id, []).append(result)

    def trial_ended(
        self, trial_id: str, config: Mapping[str, Any], status: str, error: str | None
    ) -> None:
        results = self._results.pop(trial_id, [])
        if status != col.ERRORED:
            self._judge(trial_id, config, results, status == col.TERMINATED)
            self._fired_live = self.verdict is not None

    def _judge(
        self,
        trial_id: str,
        config: Mapping[str, Any],
        results: Sequence[Mapping[str, Any]],
        completed: bool,
    ) -> None:
        metric = self.evidence.objective.metric
        trial = finished_trial(trial_id, config, results, completed, metric)
        self.evidence.add(trial)
        for judge in self.judges:
            verdict = judge.after(self.evidence, trial)
            if verdict is not None and self.verdict is None:
                self.verdict = verdict
