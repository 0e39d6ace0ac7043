"""The live ports' contract (``stream.live.ports``), run on the memory twins and on the Redis
adapters of `make services` alike: any difference between twin and real adapter fails here."""

from __future__ import annotations

import asyncio
import threading

import pytest

from stream.live.memory import MemoryBus, MemoryLiveStore
from stream.live.redis import RedisBus, RedisLiveStore, client

T0 = 1_748_860_000_000


def _pos(vehicle, ts, lat=31.5, lng=120.3, district="A", **extra):
    return {"vehicle": vehicle, "ts": ts, "lat": lat, "lng": lng, "district": district, **extra}


@pytest.fixture(params=["memory", "redis"])
def make_live(request, redis_url, prefix):
    """A factory of empty live stores (``track_points`` as given) of one implementation."""
    if request.param == "memory":
        return MemoryLiveStore
    return lambda track_points=720: RedisLiveStore(client(redis_url), prefix, track_points)


@pytest.fixture(params=["memory", "redis"])
def bus(request, redis_url, prefix):
    if request.param == "memory":
        return MemoryBus()
    return RedisBus(client(redis_url), redis_url, prefix)


def _lats(points):
    return [p["lat"] for p in points]


def test_the_latest_position_only_moves_forward_in_event_time(make_live):
    live = make_live()
    assert live.upsert(_pos("V1", "t2", lat=31.52), T0 + 2000)
    assert not live.upsert(_pos("V1", "t1", lat=31.51), T0 + 1000)  # late: track only
    assert live.get("V1")["lat"] == 31.52
    assert live.upsert(_pos("V1", "t3", lat=31.53), T0 + 3000)
    assert live.get("V1")["lat"] == 31.53
    assert live.get("nobody") is None and live.track("nobody") == []


def test_a_position_at_the_same_event_time_replaces_the_latest_and_its_track_point(make_live):
    live = make_live()
    assert live.upsert(_pos("V1", "t", state="idle"), T0)
    assert live.upsert(_pos("V1", "t", state="offline"), T0)  # same moment, new facts
    assert live.get("V1")["state"] == "offline"
    assert [p["state"] for p in live.track("V1")] == ["offline"]
    # A re-delivered batch writes its points again: the track does not grow.
    live.upsert(_pos("V1", "t", lat=31.4), T0 - 1000)
    live.upsert(_pos("V1", "t", lat=31.4), T0 - 1000)
    assert _lats(live.track("V1")) == [31.4, 31.5]


def test_late_points_join_the_track_in_event_time_order(make_live):
    live = make_live()
    for i in range(100):
        live.upsert(_pos("V1", "t", lat=30 + i / 100), T0 + 10_000 * i)
    # A blind-area batch from long ago arrives, newest first.
    for i in (15, 5):
        assert not live.upsert(_pos("V1", "late", lat=30 + i / 100 + 0.005), T0 + 10_000 * i + 1)
    track = live.track("V1")
    assert len(track) == 102 and _lats(track) == sorted(_lats(track))
    assert live.get("V1")["lat"] == 30.99
    since = live.track("V1", since_ms=T0 + 10_000 * 98)  # from that event time on, inclusive
    assert _lats(since) == [30.98, 30.99]


def test_the_track_is_bounded_by_dropping_its_oldest_points(make_live):
    live = make_live(track_points=3)
    for i in range(5):
        live.upsert(_pos("V1", "t", lat=31.0 + i / 10), T0 + 1000 * i)
    assert _lats(live.track("V1")) == [31.2, 31.3, 31.4]
    live.upsert(_pos("V1", "t", lat=30.0), T0 - 1000)  # older than the whole track: dropped
    live.upsert(_pos("V1", "t", lat=31.25), T0 + 2500)
    assert _lats(live.track("V1")) == [31.25, 31.3, 31.4]


def test_query_by_district_and_box(make_live):
    live = make_live()
    live.upsert(_pos("V3", "t", 31.51, 120.31, "A"), T0)
    live.upsert(_pos("V2", "t", 31.60, 120.40, "B"), T0)
    live.upsert(_pos("V1", "t", 31.50, 120.30, "A"), T0)
    live.upsert(_pos("V4", "t", 31.52, 120.32, None), T0)  # no district: city-wide views only
    assert [p["vehicle"] for p in live.query()] == ["V1", "V2", "V3", "V4"]
    assert [p["vehicle"] for p in live.query("A")] == ["V1", "V3"]
    assert [p["vehicle"] for p in live.query(None, (120.35, 31.55, 120.45, 31.65))] == ["V2"]
    assert [p["vehicle"] for p in live.query("A", (120.305, 31.505, 120.45, 31.65))] == ["V3"]
    assert live.query("C") == []


def test_nearest_first_within_a_district(make_live):
    live = make_live()
    live.upsert(_pos("V1", "t", 31.50, 120.30, "A"), T0)
    live.upsert(_pos("V2", "t", 31.60, 120.40, "B"), T0)
    live.upsert(_pos("V3", "t", 31.51, 120.31, "A"), T0)
    live.upsert(_pos("V0", "t", 31.51, 120.31, "A"), T0)  # as near as V3: by vehicle id
    assert [p["vehicle"] for p in live.nearest(31.502, 120.302, 2)] == ["V1", "V0"]
    assert [p["vehicle"] for p in live.nearest(31.6, 120.4, 5)] == ["V2", "V0", "V3", "V1"]
    assert [p["vehicle"] for p in live.nearest(31.6, 120.4, 5, district="A")] == ["V0", "V3", "V1"]
    assert live.nearest(31.6, 120.4, 0) == [] and live.nearest(31.6, 120.4, 3, "C") == []


def test_vehicles_equally_near_come_by_vehicle_id(make_live):
    live = make_live()
    # East and west of the point by as much: the same distance (Redis's geohash cells differ).
    live.upsert(_pos("V9", "t", 31.5, 120.306), T0)
    live.upsert(_pos("V1", "t", 31.5, 120.294), T0)
    assert [p["vehicle"] for p in live.nearest(31.5, 120.3, 1)] == ["V1"]


def test_a_vehicle_that_changes_district_leaves_the_old_one(make_live):
    live = make_live()
    live.upsert(_pos("V1", "t", 31.50, 120.30, "A"), T0)
    live.upsert(_pos("V3", "t", 31.51, 120.31, "A"), T0)
    live.upsert(_pos("V1", "t", 31.50, 120.30, "B"), T0 + 1)
    assert [p["vehicle"] for p in live.query("A")] == ["V3"]
    assert [p["vehicle"] for p in live.query("B")] == ["V1"]
    assert [p["vehicle"] for p in live.nearest(31.5, 120.3, 5, "A")] == ["V3"]
    live.upsert(_pos("V1", "t", 31.50, 120.30, "A"), T0)  # an older point does not move it back
    assert [p["vehicle"] for p in live.query("B")] == ["V1"]


def test_records_are_json_and_the_callers_own(make_live):
    live = make_live()
    live.upsert(_pos("V1", "t", extra=(1, 2)), T0)
    got = live.get("V1")
    assert got["extra"] == [1, 2]  # as JSON gives it back
    got["lat"] = 0.0
    assert live.get("V1")["lat"] == 31.5 and live.query()[0]["lat"] == 31.5
    with pytest.raises(TypeError):
        live.upsert(_pos("V2", "t", extra={1, 2}), T0)  # not JSON: refused by both


def test_any_wgs84_position_is_kept_even_where_geo_indexes_stop(make_live):
    live = make_live()
    assert live.upsert(_pos("V1", "t", 89.9, 10.0), T0)
    assert live.upsert(_pos("V2", "t", -89.9, -180.0), T0)
    assert [p["lat"] for p in live.query()] == [89.9, -89.9]
    assert [p["vehicle"] for p in live.nearest(89.0, 10.0, 1)] == ["V1"]


async def _read(sub, n, timeout=5.0):
    """The first ``n`` messages of ``sub``, then close it."""
    got = []

    async def read():
        async for message in sub:
            got.append(message)
            if len(got) == n:
                sub.close()

    await asyncio.wait_for(read(), timeout)
    return got


def test_subscribers_get_every_message_published_after_subscribing_in_order(bus):
    async def scenario():
        first, second = bus.subscribe("positions"), bus.subscribe("positions")
        for i in range(200):  # no pause: subscribed means subscribed
            bus.publish("positions", {"vehicle": f"V{i}", "i": i, "pair": (i, i)})
        return await _read(first, 200), await _read(second, 200)

    first, second = asyncio.run(scenario())
    assert [m["i"] for m in first] == list(range(200)) and first == second
    assert first[7] == {"vehicle": "V7", "i": 7, "pair": [7, 7]}  # JSON, as published


def test_topics_are_isolated(bus):
    async def scenario():
        positions, alerts = bus.subscribe("positions"), bus.subscribe("alerts")
        bus.publish("alerts", {"seq": 1})
        bus.publish("positions", {"vehicle": "V1"})
        bus.publish("other", {"seq": 99})
        bus.publish("alerts", {"seq": 2})
        return await _read(positions, 1), await _read(alerts, 2)

    positions, alerts = asyncio.run(scenario())
    assert positions == [{"vehicle": "V1"}] and alerts == [{"seq": 1}, {"seq": 2}]


def test_messages_from_other_threads_arrive_in_order(bus):
    async def scenario():
        sub = bus.subscribe("positions")
        publisher = threading.Thread(
            target=lambda: [bus.publish("positions", {"i": i}) for i in range(500)]
        )
        publisher.start()
        got = await _read(sub, 500)
        publisher.join()
        return got

    assert [m["i"] for m in asyncio.run(scenario())] == list(range(500))


def test_close_ends_the_iteration_and_nothing_published_after_it_arrives(bus):
    async def scenario():
        sub, idle = bus.subscribe("positions"), bus.subscribe("positions")
        idle.close()  # before any read: its iteration ends at once
        bus.publish("positions", {"i": 1})
        got = await _read(sub, 1)  # closes sub
        bus.publish("positions", {"i": 2})
        after = [m async for m in sub]
        ended = [m async for m in idle]
        return got, after, ended

    got, after, ended = asyncio.run(asyncio.wait_for(scenario(), 5))
    assert got == [{"i": 1}] and after == [] and ended == []
