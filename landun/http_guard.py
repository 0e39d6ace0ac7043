"""A deadline for the request head: uvicorn's h11 protocol, closing a connection whose request
line and headers are not complete within ``head_timeout_s``.

uvicorn bounds the idle time between requests (``timeout_keep_alive``) but not the time a client
may take to send a request head, nor the silence of a connection that never sends a byte: a few
hundred such sockets hold the server's connections indefinitely (slowloris). The timer here is
armed when a connection opens and whenever a new request starts after a finished one, and is
disarmed once the protocol has parsed a complete head (a new request cycle begins, or the
connection is handed to the websocket protocol). When it fires, the client gets ``408 Request
Timeout`` and the connection is closed. It works below ASGI, so no request reaches the app.
"""

from __future__ import annotations

import asyncio
import logging

from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger(__name__)
TIMEOUT_RESPONSE = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"content-length: 29\r\nconnection: close\r\n\r\nrequest head not sent in time"
)


class HeadTimeoutProtocol(H11Protocol):
    """:class:`H11Protocol` with a deadline on each request head (``head_timeout_s``)."""

    head_timeout_s = 10.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._head_timer: asyncio.TimerHandle | None = None
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        waiting = self.cycle is None or self.cycle.response_complete
        if waiting and self._head_timer is None:
            self._arm()  # the first bytes of a new request on a kept-alive connection
        before = self.cycle
        super().data_received(data)
        upgraded = self.transport.get_protocol() is not self
        if self.cycle is not before or upgraded:
            self._disarm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._head_timer = self.loop.call_later(self.head_timeout_s, self._expired)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _expired(self) -> None:
        self._head_timer = None
        if self.transport.is_closing() or self.transport.get_protocol() is not self:
            return
        if self.cycle is not None and not self.cycle.response_complete:
            return  # a request is being served: its head did arrive
        log.debug("closing %s: request head not complete in %ss", self.client, self.head_timeout_s)
        self.transport.write(TIMEOUT_RESPONSE)
        self.transport.close()


def head_timeout_protocol(head_timeout_s: float) -> type[HeadTimeoutProtocol]:
    """A :class:`HeadTimeoutProtocol` class with the given deadline, for ``uvicorn.run(http=)``."""
    return type("HeadTimeoutProtocol", (HeadTimeoutProtocol,), {"head_timeout_s": head_timeout_s})
