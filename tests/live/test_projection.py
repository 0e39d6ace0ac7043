"""The one position projection (``stream.live.projection``): its rules, and the same record from
both of its callers, the API's intake (``api.feed``, embedded demo) and the workers' live view
(``stream.live.view``, Redis), for the same pings and alerts."""

from __future__ import annotations

from api.feed import Feed
from api.memory import memory_ports
from stream.live.projection import (
    MOVING_KMH,
    VIOLATION_MS,
    display_state,
    position_record,
    violating_until,
)
from stream.live.view import RedisLiveView
from stream.ping import Ping
from stream.registry import Registry

T0 = 1_748_869_200_000  # 2025-06-02T21:00:00+08:00
MIN = 60_000
REGISTRY = {
    "vehicles": [
        {"id": "M1", "kind": "muck", "district": "梁溪", "company": "c", "plate": "苏B1"},
        {"id": "K1", "kind": "kitchen", "district": "锡山", "company": "c", "plate": "苏B2"},
    ],
    "permits": [],
    "contracts": [],
}


def _alert(aid, vehicle, ts, ended=None):
    return {
        "id": aid, "type": "signal_lost", "vehicle": vehicle, "district": "梁溪",
        "severity": "high", "ts": ts, "ended_ts": ended, "lat": 31.5, "lng": 120.3,
    }  # fmt: skip


def test_the_state_rules():
    assert display_state(T0, MOVING_KMH + 0.1, None) == "on_trip"
    # drawn as the counters count it (tally: moving from MOVING_KMH on; issue 13)
    assert display_state(T0, MOVING_KMH, None) == "on_trip"
    assert display_state(T0, MOVING_KMH - 0.1, None) == "idle"
    assert display_state(T0, None, "empty") == "idle"
    assert display_state(T0, 40.0, "half") == "loaded"
    assert display_state(T0, 40.0, "full", violating=T0) == "violation"  # up to, inclusive
    assert display_state(T0 + 1, 40.0, "full", violating=T0) == "loaded"
    assert display_state(T0, 40.0, "full", violating=T0, state="offline") == "offline"


def test_violating_until_the_end_or_for_a_while_after_the_start():
    assert violating_until(_alert("a", "M1", T0)) == T0 + VIOLATION_MS
    assert violating_until(_alert("a", "M1", "2025-06-02T21:00:00+08:00")) == T0 + VIOLATION_MS
    ended = _alert("a", "M1", T0, "2025-06-02T21:30:00+08:00")
    assert violating_until(ended) == T0 + 30 * MIN


def test_the_record():
    record = position_record(
        "M1", T0 + 5, 31.123456789, 120.98765432, speed_kmh=12.5, heading=90.0,
        district="梁溪", kind="", violating=T0 + 5,
    )  # fmt: skip
    assert record == {
        "vehicle": "M1", "district": "梁溪", "kind": None, "ts": "2025-06-02T21:00:00.005+08:00",
        "lat": 31.1234568, "lng": 120.9876543, "speed_kmh": 12.5, "heading": 90.0,
        "loaded": False, "state": "violation",
    }  # fmt: skip
    # issue 13: the load stays a flag apart from the state a violation draws
    loaded = position_record("M1", T0, 31.5, 120.3, loaded="full", violating=T0)
    assert (loaded["state"], loaded["loaded"]) == ("violation", True)
    assert position_record("M1", T0, 31.5, 120.3, loaded="empty")["loaded"] is False


# minute, vehicle, lat, lng, speed, loaded, alerts that come with the ping, the state drawn
STEPS = [
    (0, "M1", 31.50, 120.30, 30.0, None, [], "on_trip"),
    (0, "K1", 31.60, 120.40, 0.0, "full", [], "loaded"),
    (1, "M1", 31.51, 120.31, 2.0, "half", [_alert("a1", "M1", T0 + MIN)], "violation"),
    (5, "M1", 31.52, 120.32, 40.0, None, [], "violation"),
    (12, "M1", 31.53, 120.33, 40.0, None, [], "on_trip"),  # 11 min after the alert's start
    (13, "K1", 31.61, 120.41, 3.0, None, [_alert("a2", "K1", T0, T0 + 20 * MIN)], "violation"),
    (21, "K1", 31.62, 120.42, 3.0, None, [], "idle"),  # after the alert's end
    (14, "X9", 31.7, 120.5, 60.123456, None, [], "on_trip"),  # not registered
]


def test_the_api_intake_and_the_worker_live_view_draw_the_same_position(redis_url, prefix):
    ports = memory_ports()
    feed = Feed(ports)
    feed.load_reference(registry=REGISTRY)
    view = RedisLiveView(redis_url, prefix)
    view.use_registry(Registry.from_mapping(REGISTRY))
    for minute, vehicle, lat, lng, speed, loaded, alerts, state in STEPS:
        ping = Ping(vehicle, T0 + minute * MIN, lat, lng, speed, 180.0, loaded=loaded)
        for alert in alerts:
            feed.alert(alert)
        feed.position(ping.to_dict())
        view.write([ping], alerts)
        drawn = view.live.get(vehicle)
        assert ports.live.get(vehicle) == drawn
        assert drawn["state"] == state, (minute, vehicle)
    assert view.live.get("X9")["district"] is None and view.live.get("K1")["kind"] == "kitchen"
