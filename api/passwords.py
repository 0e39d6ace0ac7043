"""Password hashes: argon2id at OWASP's parameters, a policy that refuses weaker stored hashes,
and a small bounded pool that keeps the hashing off the event loop.

New hashes are argon2id with m = 19 MiB, t = 2, p = 1 (OWASP's Password Storage Cheat Sheet).
A stored hash verifies only if it is at least as strong: argon2id at those parameters or more,
or scrypt with N >= 2**17, r >= 8, p >= 1. Anything else (a weaker argon2 or scrypt, argon2i/d,
an unknown scheme, a plain-text password) never verifies, and the refusal is logged with the
operator's remedy: set the password again (``landun users passwd NAME --password-stdin``).
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import hmac
import logging
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor

import argon2
from argon2.exceptions import InvalidHashError, VerificationError

log = logging.getLogger(__name__)

ARGON2_MEMORY_KIB = 19 * 1024
ARGON2_TIME_COST = 2
ARGON2_PARALLELISM = 1
SCRYPT_MIN_N, SCRYPT_MIN_R, SCRYPT_MIN_P = 2**17, 8, 1
# Ceilings: a stored hash with absurd parameters must not exhaust memory or time when checked.
MAX_HASH_MEMORY = 256 * 1024 * 1024
ARGON2_MAX_TIME_COST = 16
REMEDY = "set the password again with `landun users passwd NAME --password-stdin`"

_HASHER = argon2.PasswordHasher(
    time_cost=ARGON2_TIME_COST,
    memory_cost=ARGON2_MEMORY_KIB,
    parallelism=ARGON2_PARALLELISM,
    hash_len=32,
    salt_len=16,
    type=argon2.Type.ID,
)


class WeakHashError(ValueError):
    """A stored password hash is of an unknown scheme or weaker than the policy.

    Operator action: set the account's password again (``landun users passwd``), which stores
    an argon2id hash at the current parameters.
    """


def hash_password(password: str) -> str:
    """Hash ``password`` with argon2id at the policy's parameters (PHC string ``$argon2id$...``)."""
    return _HASHER.hash(password)


def check_policy(stored: str) -> None:
    """Refuse a stored hash that is weaker than the policy or of an unknown scheme.

    Raises
    ------
    WeakHashError
        Naming the scheme and the parameter that falls short.
    """
    if stored.startswith("$argon2"):
        _check_argon2(stored)
    elif stored.startswith("scrypt$"):
        _scrypt_parts(stored)
    else:
        raise WeakHashError(f"unknown password hash scheme {stored.split('$')[0][:16]!r}")


def _check_argon2(stored: str) -> None:
    try:
        p = argon2.extract_parameters(stored)
    except InvalidHashError:
        raise WeakHashError("malformed argon2 hash") from None
    if p.type is not argon2.Type.ID:
        raise WeakHashError(f"argon2 variant {p.type.name.lower()}, argon2id required")
    if p.memory_cost < ARGON2_MEMORY_KIB or p.time_cost < ARGON2_TIME_COST:
        raise WeakHashError(
            f"argon2id m={p.memory_cost} KiB t={p.time_cost} is below the policy's "
            f"m={ARGON2_MEMORY_KIB} KiB t={ARGON2_TIME_COST}"
        )
    if p.memory_cost * 1024 > MAX_HASH_MEMORY or p.time_cost > ARGON2_MAX_TIME_COST:
        raise WeakHashError(f"argon2id m={p.memory_cost} KiB t={p.time_cost} is too costly")


def _scrypt_parts(stored: str) -> tuple[int, int, int, bytes, bytes]:
    try:
        _, n, r, p, salt, digest = stored.split("$")
        n, r, p = int(n), int(r), int(p)
        salt, want = base64.b64decode(salt, validate=True), base64.b64decode(digest, validate=True)
    except ValueError:
        raise WeakHashError("malformed scrypt hash") from None
    if n < SCRYPT_MIN_N or r < SCRYPT_MIN_R or p < SCRYPT_MIN_P or len(want) < 16:
        raise WeakHashError(
            f"scrypt N={n} r={r} p={p} is below the policy's "
            f"N={SCRYPT_MIN_N} r={SCRYPT_MIN_R} p={SCRYPT_MIN_P}"
        )
    if 128 * r * (n + p + 2) > MAX_HASH_MEMORY:  # OpenSSL's own estimate of what it needs
        raise WeakHashError(f"scrypt N={n} r={r} p={p} is too costly")
    return n, r, p, salt, want


@functools.cache
def decoy_hash() -> str:
    """A hash no password matches. A login naming an unknown user, or one whose stored hash the
    policy refuses, is checked against it, so that every refusal costs one argon2id check and
    the response time tells nothing about which usernames exist."""
    return hash_password(secrets.token_urlsafe(32))


def verify_password(password: str, stored: str, account: str = "?") -> bool:
    """True when ``password`` matches ``stored`` and ``stored`` meets the policy.

    A refused hash is logged (the ``account``, ``WeakHashError``'s message and the remedy) and
    costs a check against the decoy, like a wrong password.
    """
    try:
        check_policy(stored)
    except WeakHashError as exc:
        log.error("account %r: password hash refused: %s; %s", account, exc, REMEDY)
        _argon2_matches(password, decoy_hash())
        return False
    if stored.startswith("scrypt$"):
        n, r, p, salt, want = _scrypt_parts(stored)
        try:
            got = hashlib.scrypt(
                password.encode(), salt=salt, n=n, r=r, p=p, dklen=len(want), maxmem=MAX_HASH_MEMORY
            )
        except ValueError as exc:  # parameters OpenSSL refuses (N not a power of two, ...)
            log.error("account %r: password hash refused: scrypt: %s; %s", account, exc, REMEDY)
            return False
        return hmac.compare_digest(got, want)
    return _argon2_matches(password, stored)


def _argon2_matches(password: str, stored: str) -> bool:
    try:
        return _HASHER.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


class PasswordPoolBusy(Exception):  # noqa: N818 - a condition the caller answers with 503
    """Every password thread is busy and the line of waiting checks is full."""


class PasswordPool:
    """Password checks on a few dedicated threads, with a bounded line of waiting checks.

    The checks cost memory and CPU on purpose. On the event loop they would stall every socket;
    in the server's shared thread pool a flood of logins would occupy every thread that the
    other (synchronous) routes need. Here at most ``workers`` run at once, at most ``queue``
    wait, and beyond that :class:`PasswordPoolBusy` is raised at once.

    Parameters
    ----------
    workers : int
        Threads hashing at once.
    queue : int
        Checks allowed to wait for a thread.
    """

    def __init__(self, workers: int, queue: int):
        self._workers = workers
        self._executor: ThreadPoolExecutor | None = None  # started by the first check
        self._limit = workers + queue
        self._held = 0  # submitted and not finished, whether or not the caller still waits
        self._lock = threading.Lock()

    @property
    def held(self) -> int:
        """Checks submitted and not yet finished."""
        return self._held

    async def verify(self, password: str, stored: str, account: str = "?") -> bool:
        """:func:`verify_password` on a pool thread.

        Raises
        ------
        PasswordPoolBusy
            The pool and its line are full.
        """
        with self._lock:
            if self._held >= self._limit:
                raise PasswordPoolBusy
            self._held += 1
            if self._executor is None:
                self._executor = ThreadPoolExecutor(self._workers, "landun-password")
            executor = self._executor
        # Released when the thread is done, not when the caller stops waiting: a client that
        # disconnects mid-check must not free a slot whose thread is still hashing.
        future = executor.submit(verify_password, password, stored, account)
        future.add_done_callback(self._release)
        return await asyncio.wrap_future(future)

    def _release(self, _future) -> None:
        with self._lock:
            self._held -= 1

    def close(self) -> None:
        """Stop the threads once the running checks are done (a later check starts new ones)."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)
