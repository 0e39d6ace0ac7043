"""Whether a token's session still holds: the account exists, is enabled, has the same role and
district, and the generation the token was issued under (a password change or a disable bumps
it). REST requests check on every request; open websockets through :class:`AccountCache`."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from api.ports import UserStore
from api.security import Grant, User

log = logging.getLogger(__name__)


def account_problem(user: User | None, grant: Grant) -> str | None:
    """Why ``grant`` no longer holds for ``user`` (its stored account), or None if it does."""
    if user is None:
        return "account removed"
    if user.disabled:
        return "account disabled"
    if user.principal != grant.who:
        return "account's role or district changed"
    if user.generation != grant.generation:
        return "password changed or sessions revoked"
    return None


class AccountCache:
    """Accounts of the open websockets, each re-read from the store at most once per
    ``max_age_s`` (however many sockets its user has), off the event loop.

    Parameters
    ----------
    users : UserStore
        Where accounts live (a database in production: one query per user per period).
    max_age_s : float
        How old a cached account may be.
    monotonic : callable
        Seconds on a clock that never goes back (injected for tests).
    """

    MAX_ENTRIES = 10_000

    def __init__(
        self, users: UserStore, max_age_s: float, monotonic: Callable[[], float] = time.monotonic
    ):
        self._users = users
        self._max_age = max_age_s
        self._monotonic = monotonic
        self._cache: dict[str, tuple[float, User | None]] = {}

    async def get(self, username: str) -> User | None:
        """The account, fresh within ``max_age_s``.

        Raises
        ------
        Exception
            Whatever the store raises (the caller keeps the socket and asks again later).
        """
        now = self._monotonic()
        hit = self._cache.get(username)
        if hit is not None and now - hit[0] < self._max_age:
            return hit[1]
        user = await asyncio.to_thread(self._users.get, username)
        if len(self._cache) >= self.MAX_ENTRIES:
            self._cache = {k: v for k, v in self._cache.items() if now - v[0] < self._max_age}
        self._cache[username] = (now, user)
        return user
