"""The gateway over real sockets: a terminal's whole exchange, and what it refuses (issue 14)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from gateway.directory import Directory
from gateway.encoders import encode_frame
from gateway.header import V2013, V2019
from gateway.items import VendorTable
from gateway.limits import Limits
from gateway.messages import BAD_MESSAGE, FAILURE, OK, REG_NO_TERMINAL, UNSUPPORTED
from gateway.server import GatewayServer
from gateway.sink import CallbackSink, SinkUnavailable
from gateway.terminals import SIM_VENDOR, TerminalClient, TerminalError
from gateway.vendors import table_from_dict

REGISTRY = {
    "vehicles": [
        {"id": "M001", "kind": "muck", "terminal_phone": "013900000001"},
        {"id": "M002", "kind": "muck", "terminal_phone": "013900000002",
         "terminal_datum": "gcj02", "load_sensor": False},
    ]
}  # fmt: skip
NOW_MS = 1_780_000_000_000


def ping(ts: str, lat: float = 31.5, lng: float = 120.3, **extra) -> dict:
    return {"vehicle": "x", "ts": ts, "lat": lat, "lng": lng, "speed_kmh": 32.5, "heading": 90,
            "acc": True, **extra}  # fmt: skip


class Recorder:
    """A sink that stores pings, or fails while ``down``."""

    def __init__(self):
        self.pings: list[dict] = []
        self.down = False

    async def publish(self, pings):
        if self.down:
            raise SinkUnavailable("down")
        self.pings.extend(pings)

    def ready(self):
        return "ok" if not self.down else "down"

    async def close(self):
        pass


def serve(test: Callable, limits: Limits | None = None, sink=None, **kw):
    """Run ``test(server, port, sink)`` against a gateway on a free port."""

    async def main():
        recorder = sink or Recorder()
        directory = Directory.from_mapping(REGISTRY, table_from_dict(SIM_VENDOR))
        server = GatewayServer(directory, recorder, limits, b"secret", lambda: NOW_MS, **kw)
        port = await server.start()
        try:
            await asyncio.wait_for(test(server, port, recorder), 30)
        finally:
            await server.close()

    asyncio.run(main())


async def terminal(port: int, phone: str = "13900000001", version: str = V2013):
    t = TerminalClient(phone, version, timeout_s=5)
    await t.connect("127.0.0.1", port)
    return t


@pytest.mark.parametrize("version", [V2013, V2019])
def test_a_terminals_whole_exchange(version):
    async def test(server, port, sink):
        t = await terminal(port, version=version)
        assert await t.register(plate="苏B12345") == 0
        assert t.auth_code
        assert await t.authenticate() == OK
        assert await t.location(ping("2026-06-02T20:00:00+08:00", loaded="full", lift=True)) == OK
        assert await t.heartbeat() == OK
        gap = [ping(f"2026-06-02T20:0{i}:30+08:00", lat=31.5 + i / 1000) for i in range(3)]
        assert await t.batch(gap, blind_area=True) == OK
        assert await t.batch(gap[:1], blind_area=False) == OK
        assert await t.logout() == OK
        await asyncio.sleep(0.05)
        assert server.stats.closed["logout"] == 1
        first, *batch = sink.pings
        assert first["vehicle"] == "M001" and first["source"] == "jt808"
        assert first["ts"] == 1_780_401_600_000 and first["received"] == NOW_MS
        assert first["seq"] == 2  # register 0, authenticate 1, location 2
        assert first["loaded"] == "full" and first["lift"] is True
        assert (first["lat"], first["lng"], first["speed_kmh"]) == (31.5, 120.3, 32.5)
        assert [p.get("backfill") for p in batch] == [True, True, True, None]
        assert [p["seq"] for p in batch] == [4, 4, 4, 5]
        await t.close()

    serve(test)


def test_gcj02_terminal_is_converted_and_without_sensor_has_no_load():
    async def test(server, port, sink):
        t = await terminal(port, "013900000002")
        assert await t.register() == 0 and await t.authenticate() == OK
        assert await t.location(ping("2026-06-02T20:00:00+08:00", loaded="full")) == OK
        (p,) = sink.pings
        assert p["vehicle"] == "M002" and "loaded" not in p
        assert abs(p["lat"] - 31.5) > 1e-4 and abs(p["lat"] - 31.5) < 0.01  # shifted back
        await t.close()

    serve(test)


def test_unknown_terminal_is_refused_and_never_created():
    async def test(server, port, sink):
        t = await terminal(port, "13999999999")
        assert await t.register() == REG_NO_TERMINAL
        assert t.auth_code is None
        assert await t.authenticate("anything") == FAILURE
        assert await t.location(ping("2026-06-02T20:00:00+08:00")) == FAILURE
        assert sink.pings == [] and server.directory.known("13999999999") is None
        await t.close()

    serve(test)


def test_location_before_authentication_is_refused():
    async def test(server, port, sink):
        t = await terminal(port)
        assert await t.location(ping("2026-06-02T20:00:00+08:00")) == FAILURE
        assert await t.register() == 0
        assert await t.authenticate("0000000000000000") == FAILURE
        assert await t.location(ping("2026-06-02T20:00:00+08:00")) == FAILURE
        assert sink.pings == []
        # a code from a registration on an earlier connection authenticates on a new one
        code = t.auth_code
        await t.close()
        t2 = await terminal(port)
        assert await t2.authenticate(code) == OK
        assert await t2.location(ping("2026-06-02T20:00:00+08:00")) == OK
        assert len(sink.pings) == 1
        await t2.close()

    serve(test)


def test_sink_down_means_no_acknowledgement_and_not_ready():
    async def test(server, port, sink):
        t = await terminal(port)
        assert await t.register() == 0 and await t.authenticate() == OK
        sink.down = True
        assert server.checks()["sink"] != "ok"
        with pytest.raises(TerminalError):
            await t.location(ping("2026-06-02T20:00:00+08:00"))
        assert await t.heartbeat() == OK  # the connection lives on; only positions wait
        sink.down = False
        assert await t.location(ping("2026-06-02T20:00:00+08:00")) == OK  # the retransmission
        assert len(sink.pings) == 1 and server.stats.c["pings_unacknowledged"] == 1
        await t.close()

    serve(test)


@pytest.mark.parametrize(
    "frame, result",
    [
        # unsupported message id (0x0900 transparent data) -> 3
        (encode_frame(0x0900, "13900000001", 77, b"\x01\x02"), UNSUPPORTED),
        # readable header, wrong checksum -> 2
        (encode_frame(0x0002, "13900000001", 77)[:-2] + b"\x00\x7e", BAD_MESSAGE),
        # readable header, a location body too short for its message -> 2
        (encode_frame(0x0200, "13900000001", 77, b"\x00" * 10), BAD_MESSAGE),
    ],
)
def test_bad_and_unsupported_frames_are_answered_and_the_connection_lives(frame, result):
    async def test(server, port, sink):
        t = await terminal(port)
        fut = asyncio.get_running_loop().create_future()
        t._waiting[77] = fut
        await t.send_raw(b"garbage\x00\x7e\x7e" + frame)
        assert (await asyncio.wait_for(fut, 5))["result"] == result
        assert await t.heartbeat() == OK
        assert sum(server.stats.bad.values()) == (result == BAD_MESSAGE)
        await t.close()

    serve(test)


def test_unreadable_and_oversize_frames():
    async def test(server, port, sink):
        t = await terminal(port)
        await t.send_raw(b"\x7e\x01\x02\x7e")  # no header to answer: counted, no reply
        assert await t.heartbeat() == OK
        await t.send_raw(b"\x7e" + b"\x55" * 9000 + b"\x7e")  # over the cap: connection closed
        await asyncio.sleep(0.2)
        with pytest.raises((TerminalError, ConnectionError)):
            await t.heartbeat()
        assert server.stats.bad["truncated"] == 1 and server.stats.bad["too_long"] == 1
        t2 = await terminal(port)  # the server goes on
        assert await t2.heartbeat() == OK
        await t2.close()

    serve(test)


def test_slowloris_and_idle_connections_time_out():
    limits = Limits(idle_timeout_s=0.6, frame_timeout_s=0.3)

    async def test(server, port, sink):
        slow = await terminal(port)
        frame = encode_frame(0x0002, "13900000001", 1)
        for b in frame[:-1]:  # a byte every 0.05 s never finishes within 0.3 s
            try:
                await slow.send_raw(bytes((b,)))
            except ConnectionError:
                break
            await asyncio.sleep(0.05)
        idle = await terminal(port)
        await asyncio.sleep(1.0)
        assert server.stats.closed["slow_frame"] == 1
        assert server.stats.closed["idle"] == 1
        assert server.stats.open == 0
        await slow.close()
        await idle.close()

    serve(test, limits)


def test_connection_limits():
    async def test(server, port, sink):
        a, b = await terminal(port), await terminal(port)
        assert await a.heartbeat() == OK and await b.heartbeat() == OK
        c = await terminal(port)  # third from the same address: refused
        with pytest.raises((TerminalError, ConnectionError)):
            await c.heartbeat()
        assert server.stats.refused["per_address"] == 1
        await a.close()
        await asyncio.sleep(0.1)
        d = await terminal(port)  # a slot came free
        assert await d.heartbeat() == OK
        for t in (b, c, d):
            await t.close()

    serve(test, Limits(max_per_address=2))


def test_global_limit():
    async def test(server, port, sink):
        a = await terminal(port)
        assert await a.heartbeat() == OK
        b = await terminal(port)
        with pytest.raises((TerminalError, ConnectionError)):
            await b.heartbeat()
        assert server.stats.refused["global"] == 1
        await a.close()
        await b.close()

    serve(test, Limits(max_connections=1))


def test_embedded_callback_sink():
    got: list = []

    async def test(server, port, sink):
        t = await terminal(port)
        assert await t.register() == 0 and await t.authenticate() == OK
        assert await t.location(ping("2026-06-02T20:00:00+08:00")) == OK
        assert [p["vehicle"] for p in got] == ["M001"]
        await t.close()

    serve(test, sink=CallbackSink(got.extend))


def test_vendor_table_is_optional():
    # Without a profile for the terminal's manufacturer, lift/cover items are not read.
    d = Directory.from_mapping(REGISTRY, VendorTable())
    assert d.terminal("13900000001").vendor is None


def test_a_handler_error_closes_that_connection_only(monkeypatch):
    from gateway.session import Session

    real = Session.frame

    def frame(self, raw, now_ms):
        if b"\x09\x99" in raw:  # one poisonous message id
            raise RuntimeError("a bug")
        return real(self, raw, now_ms)

    monkeypatch.setattr(Session, "frame", frame)

    async def test(server, port, sink):
        victim, bystander = await terminal(port), await terminal(port)
        await victim.send_raw(encode_frame(0x0999, "13900000001", 1))
        await asyncio.sleep(0.2)
        with pytest.raises((TerminalError, ConnectionError)):
            await victim.heartbeat()
        assert server.stats.closed["error"] == 1
        assert await bystander.heartbeat() == OK
        late = await terminal(port)
        assert await late.heartbeat() == OK
        for t in (victim, bystander, late):
            await t.close()

    serve(test)
