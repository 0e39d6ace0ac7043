"""The Redis ports against a real Redis: the same behaviour the in-memory twins promise."""

from __future__ import annotations

import asyncio

import pytest

from api.memory import MemoryAlertStore
from api.ports import AlertQuery
from api.redis_ports import RedisAlertStore, RedisBus, RedisLiveStore, client

T0 = 1_748_860_000_000


def _pos(vehicle, ts, lat=31.5, lng=120.3, district="A", **extra):
    return {"vehicle": vehicle, "ts": ts, "lat": lat, "lng": lng, "district": district, **extra}


def _alert(aid, ts, vehicle="V1", district="A", type_="overspeed", **extra):
    return {
        "id": aid, "type": type_, "vehicle": vehicle, "district": district, "severity": "medium",
        "ts": ts, "ended_ts": None, "lat": 31.5, "lng": 120.3, **extra,
    }  # fmt: skip


def test_latest_position_only_moves_forward_in_event_time(redis_url, prefix):
    live = RedisLiveStore(client(redis_url), prefix, track_points=3)
    assert live.upsert(_pos("V1", "t2", lat=31.52), T0 + 2000)
    assert not live.upsert(_pos("V1", "t1", lat=31.51), T0 + 1000)  # late: track only
    assert live.get("V1")["lat"] == 31.52
    assert live.upsert(_pos("V1", "t3", lat=31.53), T0 + 3000)
    assert [p["lat"] for p in live.track("V1")] == [31.51, 31.52, 31.53]
    assert [p["lat"] for p in live.track("V1", since_ms=T0 + 2000)] == [31.52, 31.53]
    live.upsert(_pos("V1", "t4", lat=31.54), T0 + 4000)
    assert len(live.track("V1")) == 3  # bounded
    assert live.get("nobody") is None


def test_query_by_district_and_box_and_nearest(redis_url, prefix):
    live = RedisLiveStore(client(redis_url), prefix)
    live.upsert(_pos("V1", "t", 31.50, 120.30, "A"), T0)
    live.upsert(_pos("V2", "t", 31.60, 120.40, "B"), T0)
    live.upsert(_pos("V3", "t", 31.51, 120.31, "A"), T0)
    assert {p["vehicle"] for p in live.query()} == {"V1", "V2", "V3"}
    assert {p["vehicle"] for p in live.query("A")} == {"V1", "V3"}
    assert {p["vehicle"] for p in live.query(None, (120.35, 31.55, 120.45, 31.65))} == {"V2"}
    assert [p["vehicle"] for p in live.nearest(31.502, 120.302, 2)] == ["V1", "V3"]
    assert [p["vehicle"] for p in live.nearest(31.6, 120.4, 5, district="A")] == ["V3", "V1"]
    # A vehicle that moves to another district leaves the old district's index.
    live.upsert(_pos("V1", "t", 31.50, 120.30, "B"), T0 + 1)
    assert {p["vehicle"] for p in live.query("A")} == {"V3"}
    assert live.clear() > 0 and live.query() == []


@pytest.fixture(params=["memory", "redis"])
def alert_store(request, redis_url, prefix):
    """Both implementations of the alert-store port, for the same tests."""
    if request.param == "memory":
        return MemoryAlertStore(clock=lambda: 1_750_000_000.0)
    return RedisAlertStore(client(redis_url), prefix, clock=lambda: 1_750_000_000.0)


def test_an_open_version_replayed_after_the_ended_one_does_not_reopen_it(alert_store):
    opened = _alert("a1", "2025-06-02T18:00:00+08:00")
    ended = {**opened, "ended_ts": "2025-06-02T18:05:00+08:00"}
    assert alert_store.put(opened) is not None
    assert alert_store.put(ended) is not None
    # Records re-processed after a crash or a rebalance emit both versions again, in order.
    assert alert_store.put(opened) is None
    assert alert_store.put(ended) is None
    assert alert_store.get("a1")["ended_ts"] == "2025-06-02T18:05:00+08:00"
    events, _ = alert_store.events_after(0, 100)
    assert [e.alert["ended_ts"] for e in events] == [None, ended["ended_ts"]]


def test_alerts_keep_their_case_and_the_log_resumes_by_seq(redis_url, prefix):
    store = RedisAlertStore(client(redis_url), prefix, clock=lambda: 1_750_000_000.0)
    e1 = store.put(_alert("a1", "2025-06-02T18:00:00+08:00"))
    assert e1.seq == 1 and e1.alert["case"]["state"]
    assert store.put(_alert("a1", "2025-06-02T18:00:00+08:00")) is None  # unchanged: no event
    e2 = store.put(_alert("a2", "2025-06-02T19:00:00+08:00", vehicle="V2", district="B"))
    moved = store.transition("a1", "dispatched", "op", "2025-06-02T18:01:00+08:00", "go")
    assert moved.alert["case"]["state"] == "dispatched"
    e4 = store.put(_alert("a1", "2025-06-02T18:00:00+08:00", ended_ts="2025-06-02T18:05:00+08:00"))
    assert e4.alert["case"] == moved.alert["case"]  # an update keeps the case
    assert store.head() == 4
    events, gap = store.events_after(1, 10)
    assert [(e.seq, e.kind) for e in events] == [(2, "alert"), (3, "case"), (4, "alert")]
    assert not gap
    assert store.events_after(9, 10)[1]  # a seq from the future: reload
    assert [a["id"] for a in store.query(AlertQuery())] == ["a2", "a1"]
    assert [a["id"] for a in store.query(AlertQuery(district="A"))] == ["a1"]
    assert store.get("a2") == {**e2.alert}
    with pytest.raises(KeyError):
        store.transition("nope", "x", "op", "now", "")


def test_bus_delivers_positions_per_district_and_alerts(redis_url, prefix):
    bus = RedisBus(client(redis_url), redis_url, prefix)

    async def scenario():
        everything = bus.subscribe("positions")
        got = []

        async def read():
            async for message in everything:
                got.append(message)
                if len(got) == 2:
                    everything.close()

        reader = asyncio.create_task(read())
        await asyncio.sleep(0.3)
        bus.publish("positions", _pos("V1", "t"))
        bus.publish_many("positions", [_pos("V2", "t", district="B")])
        await asyncio.wait_for(reader, 5)
        return got

    got = asyncio.run(scenario())
    assert [m["vehicle"] for m in got] == ["V1", "V2"]
    assert bus.channel("positions", "B") == f"{prefix}:bus:positions:B"
