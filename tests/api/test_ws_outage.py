"""Websockets during an outage: a store that raises ``ServiceUnavailable`` (PostgreSQL for
accounts and alerts, Redis for live positions) closes the socket with 1013 and a reason naming
the service, logs one warning line without a traceback, and gives back the connection slot; a
ticket refused for an outage at the handshake can be used again."""

from __future__ import annotations

import logging

import pytest
from starlette.websockets import WebSocketDisconnect

from stream.live.errors import ServiceUnavailable
from tests.api.conftest import ticket

pytestmark = pytest.mark.timeout(60)


class Outage:
    """A store whose ``methods`` raise ``ServiceUnavailable(service)`` while ``down``."""

    def __init__(self, store, service: str, methods: set[str]):
        self._store, self._service, self._methods = store, service, methods
        self.down = False

    def __getattr__(self, name: str):
        attr = getattr(self._store, name)
        if name not in self._methods:
            return attr

        def call(*args, **kwargs):
            if self.down:
                raise ServiceUnavailable(self._service, "connection refused")
            return attr(*args, **kwargs)

        return call


def outage(app, port: str, service: str, *methods: str) -> Outage:
    """Put ``app``'s ``port`` store behind an :class:`Outage` (the hub shares the ports)."""
    wrapped = Outage(getattr(app.state.ports, port), service, set(methods))
    setattr(app.state.ports, port, wrapped)
    return wrapped


def closed(ws) -> WebSocketDisconnect:
    """The close that ends ``ws``, after any frames sent before it."""
    with pytest.raises(WebSocketDisconnect) as info:
        for _ in range(50):
            ws.receive_json()
    return info.value


def ws_warnings(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "api.ws" and r.levelno >= logging.WARNING]


def assert_nothing_held(app) -> None:
    hub = app.state.hub
    assert hub._per_user == {} and not hub.alert_clients and not hub.live_clients


@pytest.mark.parametrize("path", ["/ws/live", "/ws/alerts"])
def test_postgresql_down_at_the_handshake_closes_1013_and_keeps_the_ticket(
    client, app, caplog, path
):
    users = outage(app, "users", "postgresql", "get")
    t = ticket(client, app, "city")
    users.down = True
    with (
        caplog.at_level(logging.WARNING),
        pytest.raises(WebSocketDisconnect) as info,
        client.websocket_connect(f"{path}?ticket={t}"),
    ):
        pass
    assert info.value.code == 1013
    assert info.value.reason == "postgresql is unavailable; retry later"
    [warning] = ws_warnings(caplog)
    assert "postgresql is unavailable" in warning.getMessage() and warning.exc_info is None
    assert app.state.metrics.ws_rejected.labels("unavailable")._value.get() == 1
    assert_nothing_held(app)
    users.down = False
    with client.websocket_connect(f"{path}?ticket={t}") as ws:  # the ticket opened nothing
        assert ws.receive_json()["type"] in ("hello", "snapshot")
    assert_nothing_held(app)


def test_redis_down_closes_the_live_socket_1013(client, app, caplog):
    app.state.settings.ws_max_per_user = 1
    live = outage(app, "live", "redis", "query")
    live.down = True
    with caplog.at_level(logging.WARNING):
        with client.websocket_connect(f"/ws/live?ticket={ticket(client, app, 'city')}") as ws:
            assert ws.receive_json()["type"] == "hello"
            close = closed(ws)  # the counts and the snapshot come from the live store
        assert (close.code, close.reason) == (1013, "redis is unavailable; retry later")
    [warning] = ws_warnings(caplog)
    assert "redis is unavailable" in warning.getMessage() and warning.exc_info is None
    assert_nothing_held(app)
    live.down = False
    with client.websocket_connect(f"/ws/live?ticket={ticket(client, app, 'city')}") as ws:
        assert ws.receive_json()["type"] == "hello"  # the one slot was given back
        assert ws.receive_json()["type"] in ("snapshot", "counts")


@pytest.mark.parametrize(
    ("method", "query"),
    [("head", ""), ("query", ""), ("events_after", "after=0&")],  # head, snapshot, catch-up
)
def test_postgresql_down_closes_the_alert_socket_1013(client, app, caplog, method, query):
    app.state.settings.ws_max_per_user = 1
    alerts = outage(app, "alerts", "postgresql", method)
    alerts.down = True
    with caplog.at_level(logging.WARNING):
        with client.websocket_connect(
            f"/ws/alerts?{query}ticket={ticket(client, app, 'city')}"
        ) as ws:
            close = closed(ws)
        assert (close.code, close.reason) == (1013, "postgresql is unavailable; retry later")
    [warning] = ws_warnings(caplog)
    assert "postgresql is unavailable" in warning.getMessage() and warning.exc_info is None
    assert_nothing_held(app)
    alerts.down = False
    with client.websocket_connect(f"/ws/alerts?{query}ticket={ticket(client, app, 'city')}") as ws:
        assert ws.receive_json()["type"] in ("snapshot", "alert", "batch")
