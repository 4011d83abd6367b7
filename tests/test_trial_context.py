"""``TrialContext.checkpoint_due``: when a trainable's report should carry a checkpoint."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tunefw.plugin_api.context import TrialContext


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(time, "monotonic", fake)
    return fake


def context(interval: float | None, sent: list[Any]) -> TrialContext:
    return TrialContext(
        config={},
        metric="loss",
        reporter=lambda m, s: sent.append(s),
        checkpoint_interval_s=interval,
    )


def test_without_an_interval_every_report_is_due(clock):
    ctx = context(None, [])
    assert ctx.checkpoint_due()
    ctx.report({"loss": 1.0}, state={"step": 1})
    assert ctx.checkpoint_due(), "a scheduler that pauses trials needs each report's state"


def test_with_an_interval_a_checkpoint_is_due_once_it_has_passed_since_the_last(clock):
    sent: list[Any] = []
    ctx = context(30.0, sent)
    clock.now += 29.0
    assert not ctx.checkpoint_due(), "counted from the trial's start"
    clock.now += 1.0
    assert ctx.checkpoint_due()
    ctx.report({"loss": 1.0}, state={"step": 1})
    assert not ctx.checkpoint_due(), "counted again from the checkpoint just sent"
    clock.now += 40.0
    ctx.report({"loss": 0.5})
    assert ctx.checkpoint_due(), "a report without state does not reset the clock"
    assert sent == [{"step": 1}, None]
