"""Tell whether Ray Tune was interrupted (Ctrl-C, SIGUSR1) during ``Tuner.fit``.

Ray Tune catches the first SIGINT itself, ends the run and returns normally; when it does, it
puts back the handler it found. So a handler installed just before the fit is back in place
afterwards exactly when Ray's fired. Ray gives no other sign: a run interrupted between two
trials looks finished, only shorter.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType


def _second_interrupt(signum: int, frame: FrameType | None) -> None:
    """After Ray's handler fired once, Ctrl-C interrupts at once, as Python's default does."""
    raise KeyboardInterrupt


@contextmanager
def noticing_interrupts() -> Iterator[Callable[[], bool]]:
    """Yields a function that says whether Ray Tune's interrupt handler has fired."""
    if threading.current_thread() is not threading.main_thread():
        yield lambda: False  # Ray installs no handler off the main thread either
        return
    previous = signal.signal(signal.SIGINT, _second_interrupt)
    try:
        yield lambda: signal.getsignal(signal.SIGINT) is _second_interrupt
    finally:
        signal.signal(signal.SIGINT, previous)
