"""A per-call time limit for fuzzing: a hang fails the example instead of blocking the run.

Hypothesis's deadline is measured after an example returns, so it never sees a hang, and a
test-wide timeout fires once while shrinking re-runs the hanging input. An alarm per call
fails each hanging run on its own. POSIX, main thread (where pytest runs tests).
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager


class Hang(AssertionError):
    """The guarded call did not return in time."""


@contextmanager
def watchdog(seconds: float = 2.0) -> Iterator[None]:
    """Raise :class:`Hang` in the guarded block after ``seconds`` (wall clock)."""

    def fire(signum, frame):
        raise Hang(f"no answer within {seconds} s")

    previous = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
