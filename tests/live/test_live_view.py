"""The worker's Redis live view (stream/live/view.py) against a real Redis."""

from __future__ import annotations

import asyncio

from stream.live.view import RedisLiveView
from stream.ping import Ping

T0 = 1_748_869_200_000  # 2025-06-02T21:00:00+08:00


def _alert(vehicle, ts, ended=None):
    return {
        "id": f"a-{vehicle}-{ts}", "type": "signal_lost", "vehicle": vehicle, "district": "A",
        "severity": "high", "ts": ts, "ended_ts": ended, "lat": 31.5, "lng": 120.3,
    }  # fmt: skip


def test_a_vehicle_stays_drawn_in_violation_after_a_restart(redis_url, prefix):
    first = RedisLiveView(redis_url, prefix)
    first.write([Ping("V1", T0, 31.5, 120.3)], [_alert("V1", "2025-06-02T21:00:00+08:00")])
    assert first.live.get("V1")["state"] == "violation"

    again = RedisLiveView(redis_url, prefix)  # a restarted worker, or the partition's new owner
    again.write([Ping("V1", T0 + 60_000, 31.5, 120.3), Ping("V2", T0 + 60_000, 31.6, 120.4)], [])
    assert again.live.get("V1")["state"] == "violation"  # 10 min after the alert's start
    assert again.live.get("V2")["state"] != "violation"
    again.write([Ping("V1", T0 + 11 * 60_000, 31.5, 120.3)], [])
    assert again.live.get("V1")["state"] != "violation"


def test_a_partition_that_comes_back_sees_what_the_other_owner_wrote(redis_url, prefix):
    first = RedisLiveView(redis_url, prefix)
    first.write([Ping("V1", T0, 31.5, 120.3)], [])  # owns the partition, V1 not violating
    other = RedisLiveView(redis_url, prefix)  # the partition moved: an alert for V1 there
    other.write([], [_alert("V1", "2025-06-02T21:05:00+08:00")])
    first.write([Ping("V1", T0 + 6 * 60_000, 31.5, 120.3)], [])  # and moved back
    assert first.live.get("V1")["state"] == "violation"
    first.write([], [_alert("V1", "2025-06-02T20:00:00+08:00", "2025-06-02T20:01:00+08:00")])
    assert other.live.r.hget(first._violating_key, "V1") == str(T0 + 15 * 60_000).encode()


def test_alerts_only_colour_positions_and_only_positions_are_announced(redis_url, prefix):
    view = RedisLiveView(redis_url, prefix)

    async def scenario():
        positions, alerts = view.bus.subscribe("positions"), view.bus.subscribe("alerts")
        await asyncio.to_thread(
            view.write, [Ping("V1", T0, 31.5, 120.3)], [_alert("V1", "2025-06-02T21:00:00+08:00")]
        )
        view.bus.publish("alerts", {"marker": True})  # whatever the view sent comes before
        got_alerts, got_positions = [], []
        async for message in alerts:
            got_alerts.append(message)
            alerts.close()
        async for message in positions:
            got_positions.append(message)
            positions.close()
        return got_alerts, got_positions

    got_alerts, got_positions = asyncio.run(asyncio.wait_for(scenario(), 5))
    assert got_alerts == [{"marker": True}]
    assert [(p["vehicle"], p["state"]) for p in got_positions] == [("V1", "violation")]
    keys = {k.decode() for k in view.live.r.scan_iter(f"{prefix}:*", count=1000)}
    assert keys == {f"{prefix}:{k}" for k in ("pos:V1", "track:V1", "geo", "violating")}
