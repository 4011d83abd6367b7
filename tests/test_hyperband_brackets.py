"""HyperBand's brackets go on when a trial leaves them instead of reporting at the rung.

Driven event by event, as Ray Tune's controller drives a scheduler (no Ray needed): Ray
2.60's own HyperBand leaves the paused trials waiting forever in this order of events, which
hung a test run on real Ray (the order is a race there); tunefw's does not.
"""

from __future__ import annotations

from typing import Any

from ray.tune.experiment import Trial
from ray.tune.schedulers import HyperBandScheduler, TrialScheduler

from tunefw.prepare.schedulers import TIME_ATTR, hyperband
from tunefw.recipe.scheduler_sections import HyperBand


class Controller:
    """What a scheduler asks of Ray Tune's controller: stopping a trial, which then leaves
    its bracket."""

    def __init__(self) -> None:
        self.scheduler: Any = None
        self.trials: list[Trial] = []

    def get_live_trials(self) -> set[Trial]:
        return {t for t in self.trials if t.status != Trial.TERMINATED}

    def stop_trial(self, trial: Trial) -> None:
        trial.set_status(Trial.TERMINATED)
        self.scheduler.on_trial_remove(self, trial)


def report(scheduler: Any, controller: Controller, trial: Trial, step: int, loss: float) -> None:
    action = scheduler.on_trial_result(controller, trial, {TIME_ATTR: step, "loss": loss})
    if action == TrialScheduler.PAUSE:
        trial.set_status(Trial.PAUSED)
    elif action == TrialScheduler.STOP:
        trial.set_status(Trial.TERMINATED)


def paused_forever(scheduler: Any) -> list[Trial]:
    """Three trials, the bracket that runs them all to ``max_t`` = 9: two report step 9 and
    pause for the third, whose step-9 result comes with its end (its function returned, so
    Ray Tune hands the scheduler ``on_trial_complete``, not ``on_trial_result``). The trials
    left paused once nothing runs."""
    controller = Controller()
    controller.scheduler = scheduler
    scheduler.set_search_properties("loss", "min")
    controller.trials = [Trial("__fake", stub=True, trial_id=f"t{i}") for i in range(3)]
    first, second, last = controller.trials
    for trial in controller.trials:
        scheduler.on_trial_add(controller, trial)
        trial.set_status(Trial.RUNNING)
    for step in range(1, 10):
        for trial in controller.trials:
            if trial is not last or step < 9:
                report(scheduler, controller, trial, step, loss=1.0 / step)
    assert first.status == second.status == Trial.PAUSED, "waiting for the bracket's last"
    last.set_status(Trial.TERMINATED)
    scheduler.on_trial_complete(controller, last, {TIME_ATTR: 9, "loss": 1.0 / 9})
    while (trial := scheduler.choose_trial_to_run(controller)) is not None:
        trial.set_status(Trial.RUNNING)
        report(scheduler, controller, trial, 9, loss=1.0 / 9)  # a restored trial's last step
    return [t for t in controller.trials if t.status == Trial.PAUSED]


def test_ray_hyperband_leaves_the_paused_trials_waiting():
    """The Ray behaviour tunefw works around; when Ray fixes it, this fails and the
    workaround (tunefw.compat.HYPERBAND_BRACKETS and HYPERBAND_HALVE) can go."""
    raw = HyperBandScheduler(time_attr=TIME_ATTR, max_t=9, reduction_factor=3)
    assert len(paused_forever(raw)) == 2


def test_tunefw_hyperband_ends_the_bracket_once_nothing_runs():
    scheduler = hyperband(HyperBand(max_t=9), set(), bohb=False)
    assert paused_forever(scheduler) == []
