"""Slow consumers: outboxes stay bounded; a client too slow for alerts is closed with 1013.

The test client never blocks a send, so these tests drive the real endpoints through a raw ASGI
connection whose ``send`` stops returning after the first frames, like a stalled TCP peer.
"""

from __future__ import annotations

import asyncio

import orjson
import pytest

from api.app import create_app
from api.hub import AlertClient, LiveClient
from api.memory import memory_ports
from api.ports import AlertEvent
from api.security import Principal, Role
from stream.eventtime import to_iso
from tests.api.conftest import BASE_MS, LX, XS, Clock, alert, make_settings, make_users, ping, seed

# A lost frame would block a receive forever: fail instead of hanging the run.
pytestmark = pytest.mark.timeout(60)


class StalledPeer:
    """An ASGI websocket peer that reads ``free`` frames, then stops reading."""

    def __init__(self, free: int):
        self.free = free
        self.frames: list[dict] = []
        self.closed: dict | None = None
        self.inbox: asyncio.Queue = asyncio.Queue()
        self.inbox.put_nowait({"type": "websocket.connect"})
        self.stalled = asyncio.Event()

    async def receive(self) -> dict:
        return await self.inbox.get()

    async def send(self, message: dict) -> None:
        if message["type"] == "websocket.close":
            self.closed = message
            return
        if message["type"] == "websocket.send":
            if len(self.frames) >= self.free:
                self.stalled.set()
                await asyncio.Event().wait()  # never returns: the peer stopped reading
            self.frames.append(message)


def scope(path: str, query: str) -> dict:
    return {
        "type": "websocket",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "headers": [(b"host", b"testserver")],
        "subprotocols": [],
        "scheme": "ws",
        "server": ("testserver", 80),
        "client": ("127.0.0.1", 50000),
        "root_path": "",
    }


async def until(predicate, rounds: int = 20_000) -> None:
    """Yield to the loop until ``predicate()`` holds (bounded by rounds, not by time). Every
    50th round sleeps a millisecond: the server reads its stores in threads (asyncio.to_thread),
    whose results need the loop to wait, not only to spin."""
    for i in range(rounds):
        if predicate():
            return
        await asyncio.sleep(0 if i % 50 else 0.001)
    raise AssertionError("condition never held")


def queued_ts(client: LiveClient, vehicle: str) -> str | None:
    """Event time of the position queued for ``vehicle`` (the outbox holds its JSON)."""
    queued = client.pending.get(vehicle)
    return orjson.loads(queued[1])["ts"] if queued else None


def build(**settings):
    clock = Clock()
    app = create_app(make_settings(**settings), memory_ports(make_users(), clock=clock), clock)
    seed(app)
    return app


def test_a_client_too_slow_for_alerts_is_closed_with_1013():
    app = build(ws_alert_queue=5, ws_send_timeout_s=3600)

    async def scenario():
        async with app.router.lifespan_context(app):
            who = Principal("city", Role.CITY)
            ticket = app.state.issuer.issue(who, "ws")
            peer = StalledPeer(free=1)  # reads the snapshot, then stalls
            task = asyncio.create_task(
                app(scope("/ws/alerts", f"ticket={ticket}"), peer.receive, peer.send)
            )
            await until(lambda: peer.stalled.is_set() or app.state.hub.alert_clients)
            for i in range(50):
                app.state.feed.alert(alert(f"burst-{i}", "LX-1", LX, minute=40 + i))
                await asyncio.sleep(0)
            await asyncio.wait_for(task, timeout=30)
            return peer, app.state.hub

    peer, hub = asyncio.run(scenario())
    assert peer.closed is not None and peer.closed["code"] == 1013
    assert "after=" in peer.closed["reason"]
    assert not hub.alert_clients  # the connection was released


def test_live_positions_coalesce_while_the_client_is_stalled():
    app = build(ws_send_timeout_s=3600)

    async def scenario():
        async with app.router.lifespan_context(app):
            ticket = app.state.issuer.issue(Principal("city", Role.CITY), "ws")
            peer = StalledPeer(free=2)  # hello, snapshot; then stalls
            task = asyncio.create_task(
                app(scope("/ws/live", f"ticket={ticket}"), peer.receive, peer.send)
            )
            await until(peer.stalled.is_set)
            client = next(iter(app.state.hub.live_clients))
            sizes = []
            for minute in range(10, 60):
                for vid in ("LX-1", "LX-2", "XS-1", "XS-2"):
                    app.state.feed.position(ping(vid, minute))
                stamp = to_iso(BASE_MS + minute * 60_000)
                await until(lambda s=stamp: queued_ts(client, "XS-2") == s)
                sizes.append(len(client.pending))
            latest = queued_ts(client, "XS-2")
            task.cancel()
            return sizes, latest

    sizes, latest = asyncio.run(scenario())
    assert max(sizes) <= 4  # one entry per vehicle in scope, however many updates
    assert latest.startswith("2025-06-01T20:59")  # and it is the newest one


def test_live_outbox_cap_turns_into_a_resnapshot():
    client = LiveClient(Principal("city", Role.CITY), cap=3)
    client.resnapshot = False  # as after the first snapshot
    for i in range(10):
        client.offer({"vehicle": f"v{i}", "district": LX, "lat": 31.5, "lng": 120.3})
        assert len(client.pending) <= 3
    assert client.resnapshot


def test_live_client_filters_district_before_queueing():
    client = LiveClient(Principal("liangxi", Role.DISTRICT, LX), cap=100)
    client.offer({"vehicle": "x", "district": XS, "lat": 31.5, "lng": 120.3})
    client.offer({"vehicle": "y", "district": LX, "lat": 31.5, "lng": 120.3})
    assert list(client.pending) == ["y"]


def test_alert_outbox_is_bounded_and_flags_overflow():
    client = AlertClient(Principal("city", Role.CITY), maxsize=10, cursor=0)
    for seq in range(1, 1001):
        client.offer(AlertEvent(seq, "alert", {"id": f"a{seq}", "district": LX}))
        assert len(client.queue) <= 10
    assert client.overflowed.is_set()


def test_alert_client_detects_holes_and_skips_duplicates():
    client = AlertClient(Principal("liangxi", Role.DISTRICT, LX), maxsize=10, cursor=5)
    client.offer(AlertEvent(5, "alert", {"id": "dup", "district": LX}))
    client.offer(AlertEvent(6, "alert", {"id": "other", "district": XS}))
    client.offer(AlertEvent(7, "alert", {"id": "mine", "district": LX}))
    assert [e.alert["id"] for e in client.queue] == ["mine"] and client.cursor == 7
    client.offer(AlertEvent(9, "alert", {"id": "after-hole", "district": LX}))
    assert client.behind and client.cursor == 7


def test_a_stuck_send_is_closed_by_the_watchdog_with_1013():
    app = build(ws_send_timeout_s=0.2)

    async def scenario():
        async with app.router.lifespan_context(app):
            ticket = app.state.issuer.issue(Principal("city", Role.CITY), "ws")
            peer = StalledPeer(free=1)  # reads hello; the snapshot send never completes
            task = asyncio.create_task(
                app(scope("/ws/live", f"ticket={ticket}"), peer.receive, peer.send)
            )
            await asyncio.wait_for(task, timeout=30)
            return peer, app.state.hub

    peer, hub = asyncio.run(scenario())
    assert peer.closed is not None and peer.closed["code"] == 1013
    assert not hub.live_clients
