"""Login throttling: failed logins per username and per client address, with an exponential
backoff once a key has used its free failures.

The first ``free`` failures of a key cost nothing; each further one makes the key wait
``backoff_s`` seconds, doubling with each failure up to ``backoff_max_s``. A login during the
wait is refused with 429 and ``Retry-After`` without checking the password (so a throttled flood
costs no hashing). A success resets the username's count (not the address's: one known account
must not launder an address's guessing). Failures are forgotten ``forget_s`` after a key's last
one.

An attempt counts from the moment it is admitted (``begin``), not only once its password check
has failed (``end``): while a key has attempts in flight, each counts as a failure already, so
concurrent guesses get no more checks than sequential ones (``free + 1`` before the first wait).

State is in-process: each API replica throttles on its own, so N replicas behind a balancer
allow up to N times the attempts. At most ``tracked`` keys are kept; the least recently failed
are dropped first, so a flood of random usernames costs bounded memory. Behind a reverse proxy
the client address is the proxy's unless uvicorn is told to trust its forwarded headers.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Policy:
    """Free failures per kind of key, and the backoff."""

    account_free: int = 5
    address_free: int = 20
    backoff_s: float = 1.0
    backoff_max_s: float = 900.0
    forget_s: float = 3600.0
    tracked: int = 100_000

    @classmethod
    def from_settings(cls, settings) -> Policy:
        return cls(
            settings.login_account_free_failures,
            settings.login_address_free_failures,
            settings.login_backoff_s,
            settings.login_backoff_max_s,
            settings.login_forget_s,
            settings.login_tracked,
        )


class LoginThrottle:
    """Failure counts by ``("account", username)`` and ``("address", host)``.

    Parameters
    ----------
    policy : Policy
        Limits.
    clock : callable
        Seconds (the app's wall clock, injected for tests).
    """

    def __init__(self, policy: Policy, clock: Callable[[], float]):
        self.policy = policy
        self._clock = clock
        self._failures: OrderedDict[tuple[str, str], tuple[int, float]] = OrderedDict()
        # Attempts admitted by ``begin`` and not yet ended, by key (none kept at zero: bounded
        # by the requests in flight).
        self._inflight: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()

    def wait(self, username: str, address: str) -> tuple[str, int] | None:
        """``(by, seconds)`` when a login must wait ("account" or "address"), else None."""
        with self._lock:
            return self._wait(username, address, self._clock())

    def begin(self, username: str, address: str) -> tuple[str, int] | None:
        """Admit a login attempt, or ``(by, seconds)`` when it must wait (as ``wait``).

        An admitted attempt counts as a failure of both keys until ``end`` says how it went, so
        the check and the count are one step: concurrent attempts cannot all pass the check.
        """
        now = self._clock()
        with self._lock:
            waiting = self._wait(username, address, now)
            if waiting is None:
                for by, key, _ in self._keys(username, address):
                    self._inflight[(by, key)] = self._inflight.get((by, key), 0) + 1
            return waiting

    def end(self, username: str, address: str, outcome: str | None) -> None:
        """End an attempt admitted by ``begin``: ``"failed"`` counts a failure against both keys,
        ``"succeeded"`` resets the username's count, None (not checked: busy, an outage, a
        cancelled request) counts nothing."""
        now = self._clock()
        with self._lock:
            for by, key, _ in self._keys(username, address):
                left = self._inflight.pop((by, key), 0) - 1
                if left > 0:
                    self._inflight[(by, key)] = left
            if outcome == "failed":
                self._failed(username, address, now)
            elif outcome == "succeeded":
                self._failures.pop(("account", username), None)

    def failed(self, username: str, address: str) -> None:
        """Count a failed login against both keys."""
        now = self._clock()
        with self._lock:
            self._failed(username, address, now)

    def succeeded(self, username: str) -> None:
        """Reset the username's count."""
        with self._lock:
            self._failures.pop(("account", username), None)

    def _wait(self, username: str, address: str, now: float) -> tuple[str, int] | None:
        for by, key, free in self._keys(username, address):
            pending = self._inflight.get((by, key), 0)
            left = self._left(self._failures.get((by, key)), pending, free, now)
            if left > 0:
                return by, max(1, math.ceil(left))
        return None

    def _failed(self, username: str, address: str, now: float) -> None:
        for by, key, _ in self._keys(username, address):
            count, last = self._failures.pop((by, key), (0, now))
            if now - last > self.policy.forget_s:
                count = 0
            self._failures[(by, key)] = (count + 1, now)  # moved to the newest end
        while len(self._failures) > self.policy.tracked:
            self._failures.popitem(last=False)

    def _keys(self, username: str, address: str):
        p = self.policy
        return (("account", username, p.account_free), ("address", address, p.address_free))

    def _left(self, entry: tuple[int, float] | None, pending: int, free: int, now: float) -> float:
        """Seconds left to wait for a key with ``entry`` (count, last failure) and ``pending``
        attempts in flight, each counted as a failure now."""
        count, last = entry if entry is not None else (0, now)
        if now - last > self.policy.forget_s:
            count = 0
        if pending:
            count, last = count + pending, now
        if count <= free:
            return 0.0
        p = self.policy
        # Exponent capped before the power: a huge count must not overflow the float.
        delay = min(p.backoff_max_s, p.backoff_s * 2.0 ** min(count - free - 1, 64))
        return last + delay - now
