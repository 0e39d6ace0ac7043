"""The websocket handshake: query parameters, Origin, credential, the user's connection slot
(``admit`` / ``leave``), and the closes that end a socket (``Close``, ``unavailable``). The rules
are described in :mod:`api.ws`, which uses these for both routes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from urllib.parse import urlsplit

from fastapi import WebSocket
from starlette.websockets import WebSocketDisconnect

from api.deps import authenticate
from api.security import AuthError, Grant
from stream.live.errors import ServiceUnavailable

log = logging.getLogger("api.ws")  # one logger for the websocket layer, handshake included
SUBPROTOCOL = "landun.v1"
AUTH_PREFIX = "auth."
MAX_SEQ_DIGITS = 19  # a resume point fits in a signed 64-bit integer


class Close(Exception):  # noqa: N818 - a control-flow signal, not an error
    """Close the socket with ``code`` and ``reason``."""

    def __init__(self, code: int, reason: str):
        super().__init__(reason)
        self.code, self.reason = code, reason


def unavailable(ws: WebSocket, exc: ServiceUnavailable) -> Close:
    """The 1013 close for an outage of ``exc.service``, logged as one warning line: the outage
    is the operator's to fix (``/readyz``), not a bug, so no traceback."""
    log.warning("%s: %s; closing with 1013", ws.url.path, exc)
    return Close(1013, f"{exc.service} is unavailable; retry later")


async def close(ws: WebSocket, how: Close) -> None:
    """Close with ``how``'s code and reason, unless the socket is already gone."""
    with contextlib.suppress(RuntimeError, WebSocketDisconnect):
        await ws.close(code=how.code, reason=how.reason)


def origin_allowed(ws: WebSocket, settings) -> bool:
    """Exact scheme://host[:port] match against the allowlist, or the request's own host.

    A missing Origin is a non-browser client; it still needs a ticket or token (never a cookie).
    """
    origin = ws.headers.get("origin")
    if origin is None:
        return True
    origin = origin.rstrip("/").lower()
    if origin in {o.rstrip("/").lower() for o in settings.allowed_origins}:
        return True
    if not settings.allow_same_origin:
        return False
    scheme = "https" if ws.url.scheme == "wss" else "http"
    host = ws.headers.get("host", "").lower()
    parts = urlsplit(origin)
    return bool(host) and parts.scheme == scheme and parts.netloc == host


def parse_seq(value: str) -> int:
    """A non-negative decimal ``seq`` of at most 19 ASCII digits (``int()`` alone would take
    ``"²"``-like digits, and spend quadratic time on thousands of them before refusing)."""
    if not (value.isascii() and value.isdecimal() and len(value) <= MAX_SEQ_DIGITS):
        raise Close(
            1008, f"after must be a non-negative integer of at most {MAX_SEQ_DIGITS} digits"
        )
    return int(value)


def _text(value: str) -> str:
    return value


def parse_query(ws: WebSocket, params: dict[str, Callable[[str], object]]) -> dict[str, object]:
    """The route's query ``params`` parsed by their functions; ``ticket`` is always allowed.

    Raises
    ------
    Close
        1008 for an unknown or repeated parameter or one its function refuses.
    """
    known = {"ticket": _text, **params}
    parsed: dict[str, object] = {}
    for name, value in ws.query_params.multi_items():
        if name not in known:
            raise Close(1008, f"unknown query parameter {ascii(name[:24])}")
        if name in parsed:
            raise Close(1008, f"query parameter {name!r} given twice")
        parsed[name] = known[name](value)
    return parsed


def _credential(ws: WebSocket) -> tuple[str | None, tuple[str, ...]]:
    offered = ws.scope.get("subprotocols") or []
    for proto in offered:
        if proto.startswith(AUTH_PREFIX):
            return proto[len(AUTH_PREFIX) :], ("ws", "access")
    # Only tickets in the query string: URLs end up in logs, tickets die in seconds.
    return ws.query_params.get("ticket"), ("ws",)


async def admit(
    ws: WebSocket, channel: str, params: dict[str, Callable[[str], object]]
) -> tuple[Grant, dict[str, object]] | None:
    """Check the query, Origin and credential, take a connection slot of the user and accept;
    or close with 1008/1013 and return None. The caller must :func:`leave` once it returns."""
    state = ws.app.state
    rejected = state.metrics.ws_rejected
    try:
        query = parse_query(ws, params)
    except Close as exc:
        rejected.labels("query").inc()
        await ws.close(code=exc.code, reason=exc.reason)
        return None
    if not origin_allowed(ws, state.settings):
        rejected.labels("origin").inc()
        await ws.close(code=1008, reason="origin not allowed")
        return None
    token, kinds = _credential(ws)
    try:
        if not token:
            raise AuthError("no ticket")
        grant = await asyncio.to_thread(authenticate, token, state.ports, state.issuer, kinds)
    except AuthError:
        rejected.labels("auth").inc()
        await ws.close(code=1008, reason="authentication failed")
        return None
    except ServiceUnavailable as exc:  # the account could not be read: not the caller's fault
        rejected.labels("unavailable").inc()
        state.issuer.release(token)  # the ticket opened nothing: it may be tried again
        await close(ws, unavailable(ws, exc))
        return None
    username = grant.who.username
    if not state.hub.admit_user(username, state.settings.ws_max_per_user):
        rejected.labels("limit").inc()
        await ws.close(code=1013, reason="too many connections for this user")
        return None
    offered = ws.scope.get("subprotocols") or []
    try:
        await ws.accept(subprotocol=SUBPROTOCOL if SUBPROTOCOL in offered else None)
    except BaseException:
        state.hub.release_user(username)  # the peer left during the handshake
        raise
    state.metrics.ws_clients.labels(channel).inc()
    return grant, query


def leave(ws: WebSocket, channel: str, grant: Grant) -> None:
    """Give back what :func:`admit` took."""
    ws.app.state.hub.release_user(grant.who.username)
    ws.app.state.metrics.ws_clients.labels(channel).dec()
