"""What only the Redis adapters of the live ports do: per-district channels, the rebuild's
clear, and ServiceUnavailable when Redis cannot be reached. The contract both twins share is in
test_live_ports.py."""

from __future__ import annotations

import asyncio
import socket

import pytest

from stream.live.errors import ServiceUnavailable
from stream.live.redis import RedisBus, RedisLiveStore, RedisSubscription, client

T0 = 1_748_860_000_000


def _pos(vehicle, district):
    return {"vehicle": vehicle, "ts": "t", "lat": 31.5, "lng": 120.3, "district": district}


def test_positions_are_also_published_per_district(redis_url, prefix):
    bus = RedisBus(client(redis_url), redis_url, prefix)
    assert bus.channel("positions", "B") == f"{prefix}:bus:positions:B"

    async def scenario():
        everything = bus.subscribe("positions")
        only_b = RedisSubscription(redis_url, bus.channel("positions", "B"))
        bus.publish("positions", _pos("V1", "A"))
        bus.publish_many("positions", [_pos("V2", "B"), _pos("V3", None)])
        got, got_b = [], []
        async for message in everything:
            got.append(message["vehicle"])
            if len(got) == 3:
                everything.close()
        async for message in only_b:
            got_b.append(message["vehicle"])
            only_b.close()
        return got, got_b

    assert asyncio.run(asyncio.wait_for(scenario(), 5)) == (["V1", "V2", "V3"], ["V2"])


def test_clear_removes_positions_tracks_and_indexes_only(redis_url, prefix):
    r = client(redis_url)
    live = RedisLiveStore(r, prefix)
    live.upsert(_pos("V1", "A"), T0)
    r.hset(f"{prefix}:violating", "V1", T0)
    assert live.clear() == 4  # pos, track, geo, geo:A
    assert live.query() == [] and live.track("V1") == [] and live.get("V1") is None
    assert r.hget(f"{prefix}:violating", "V1") == str(T0).encode()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens there once closed


def test_a_redis_that_cannot_be_reached_is_service_unavailable():
    url = f"redis://127.0.0.1:{_closed_port()}/0"
    live, bus = RedisLiveStore(client(url)), RedisBus(client(url), url)
    for call in (
        lambda: live.upsert(_pos("V1", "A"), T0),
        lambda: live.get("V1"),
        lambda: live.query("A"),
        lambda: live.nearest(31.5, 120.3, 3),
        lambda: live.track("V1"),
        lambda: bus.publish("positions", _pos("V1", "A")),
    ):
        with pytest.raises(ServiceUnavailable) as caught:
            call()
        assert caught.value.service == "redis"

    async def subscribe():
        bus.subscribe("positions")

    with pytest.raises(ServiceUnavailable):
        asyncio.run(subscribe())
