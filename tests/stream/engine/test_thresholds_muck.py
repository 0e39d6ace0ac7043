"""Threshold pairs for the muck rules (issue 11 "Thresholds the tests must pin").

Every threshold the muck rules use gets a just-below / just-above pair built the way the bureau
would describe the situation, close enough to the default that loosening it fails a test
(suspicious stop 5 -> 7 min, uncovered 30 -> 100 s, jump 150 -> 250 km/h, cooldown 10 -> 13 min,
and ~10 % for the others). Each row: a builder taking the quantity, the value just below, the
value just above, and the alert types (or outcome) expected for each. The values are the
documented defaults written out (docs/domain.md, docs/formats.md), never read from ``Thresholds``:
a changed default must fail here.
"""

from __future__ import annotations

import math

import pytest

from tests.stream.engine.world import D1, LAT, S1, T1, Trace, run

FULL = {"loaded": "full"}
EMPTY = {"loaded": "empty"}
M_LNG = 111_195.0 * math.cos(math.radians(LAT))  # metres per degree of longitude here
M_LAT = 110_857.0  # metres per degree of latitude here (meridian)
T1_WEST = T1[1] - 0.001


def loaded_at_site(start: str = "2025-06-01 21:00", sensor: bool = True) -> Trace:
    tr = Trace("M1", start).stay(60).drive(*S1, kmh=30)
    return tr.stay(300, **EMPTY).stay(60, **FULL) if sensor else tr.stay(360)


def unload_and_park(tr: Trace, hours: float = 0.2) -> list:
    tr.drive(*T1, kmh=40, **FULL).stay(240, **FULL).stay(60, **EMPTY)
    return tr.drive(*D1, kmh=40, **EMPTY).stay(hours * 3600, every=300, **EMPTY).pings


# -- the builders: one situation each, the quantity in its natural unit ---------------------
def load_dwell(seconds: float) -> list:
    """dwell_ms: a truck without a load sensor stands ``seconds`` in S1 (a fix every 5 s),
    then drives off: a load (a trip record) only from 3 minutes."""
    tr = Trace("M1", "2025-06-01 21:00").place(S1[0], S1[1] - 0.0009)
    tr.stay(seconds, every=5).drive(LAT, 120.30, kmh=40, every=5)
    return tr.pings


def loaded_stop(seconds: float) -> list:
    """suspicious_stop_ms: loaded, stopped ``seconds`` on the road (a fix every 5 s)."""
    tr = loaded_at_site().drive(LAT, 120.30, **FULL).stay(seconds, every=5, **FULL)
    return unload_and_park(tr)


def cruise(tr: Trace, kmh: float, seconds: float, every: float = 5, **flags) -> Trace:
    """Eastwards at ``kmh``, a fix every ``every`` s: first and last exactly ``seconds`` apart."""
    tr.stay(every, every=every, speed=kmh, **flags)
    for _ in range(round(seconds / every)):
        tr.place(tr.lat, tr.lng + kmh / 3.6 * every / M_LNG).stay(
            every, every=every, speed=kmh, **flags
        )
    return tr


def parallel_road(metres: float, seconds: float = 180) -> list:
    """deviation_m: loaded, on a road ``metres`` north of C1's edge for ``seconds`` (reached
    and left by fixes 150 m from C1's centre line, within the tolerance)."""
    tr = loaded_at_site().drive(LAT, 120.285, **FULL)
    tr.place(LAT + 150 / M_LAT, tr.lng).stay(5, every=5, speed=40, **FULL)
    tr.place(LAT + (60 + metres) / M_LAT, tr.lng)
    cruise(tr, 40, seconds, **FULL)
    tr.place(LAT + 150 / M_LAT, tr.lng).stay(5, every=5, speed=40, **FULL)
    return unload_and_park(tr.place(LAT, tr.lng).stay(5, every=5, speed=40, **FULL))


def detour(seconds: float) -> list:
    """deviation_ms: loaded, 240 m off the corridor's edge for ``seconds``."""
    return parallel_road(240, seconds)


def fast(kmh: float, seconds: float = 120, vehicle: str = "M1", lat: float = LAT) -> list:
    """overspeed: ``kmh`` for ``seconds`` (a fix every 5 s), between two slow legs."""
    tr = Trace(vehicle, "2025-06-01 23:00").place(lat, 120.365).stay(10, every=5, speed=30)
    cruise(tr, kmh, seconds)
    return cruise(tr, 30, 60).pings


def cover_open(seconds: float, kmh: float = 40) -> list:
    """uncovered_ms / uncovered_speed_kmh: loaded, cover open for ``seconds`` at ``kmh``."""
    tr = loaded_at_site().drive(LAT, 120.28, **FULL)
    cruise(tr, kmh, seconds, cover_open=True, **FULL)
    return unload_and_park(cruise(tr, kmh, 30, **FULL))


def two_overspeeds(gap_s: float) -> list:
    """cooldown_ms: two 1-minute overspeeds whose first fixes are ``gap_s`` apart."""
    tr = Trace("M1", "2025-06-01 23:00").place(LAT, 120.28).stay(10, every=5, speed=30)
    start = tr.t + 5000
    cruise(tr, 75, 60)
    while tr.t < start + gap_s * 1000 - 10_000:
        tr.stay(5, every=5, speed=30)
    tr.t = start + int(gap_s * 1000) - 5000
    return cruise(cruise(tr, 75, 60), 30, 60).pings


def late_unload(hours: float) -> list:
    """trip_deadline_ms / trip_expiry_ms: a truck without a load sensor leaves S1 and parks in
    the depot until ``hours`` after its departure, then unloads at T1."""
    tr = loaded_at_site(sensor=False)
    tr.drive(S1[0], S1[1] - 0.0015, kmh=30, every=5)
    departed = tr.pings[-1].ts  # (its first fix outside S1 is within this drive)
    tr.drive(*D1, kmh=30)
    leave = departed + int(hours * 3_600_000) - int((T1[1] - D1[1]) * M_LNG / (60 / 3.6) * 1000)
    while tr.t < leave - 300_000:
        tr.stay(300, every=300)
    tr.wait((leave - tr.t) / 1000).drive(*T1, kmh=60, every=5).stay(360)
    return tr.drive(*D1, kmh=60).stay(600).pings


def jump(kmh: float, seconds: float = 20) -> list:
    """max_jump_kmh: a fix implying ``kmh`` from the last over ``seconds``, then the truck is
    seen there again: rejected as an impossible jump only above the limit."""
    metres = kmh / 3.6 * seconds
    tr = Trace("M1", "2025-06-01 23:00").place(LAT, 120.28).stay(30, every=30, speed=40)
    return tr.place(LAT, 120.28 + metres / M_LNG).stay(seconds, every=seconds, speed=40).pings


def short_jump(metres: float) -> list:
    """jump_min_m: a fix ``metres`` away 2 s later (an implied 500+ km/h)."""
    tr = Trace("M1", "2025-06-01 23:00").place(LAT, 120.28).stay(30, every=30)
    return tr.place(LAT, 120.28 + metres / M_LNG).stay(2, every=2).pings


def two_fixes_out(apart_s: float) -> list:
    """exit_hold_ms: a truck standing in S1 has two fixes 100 m outside, ``apart_s`` apart,
    then is inside again."""
    tr = Trace("M1", "2025-06-01 21:00").place(*S1).stay(60, every=30)
    tr.place(S1[0] + (111 + 100) / M_LAT, S1[1]).stay(5, every=5)
    tr.stay(apart_s, every=apart_s)
    return tr.place(*S1).stay(60, every=30).pings


def shifted_stop(metres: float) -> list:
    """stop_radius_m: loaded, stopped 4 minutes, then ``metres`` further on (GPS or a nudge)
    for 4 more minutes: one stop of 8 minutes within the radius, two of 4 beyond it."""
    tr = loaded_at_site().drive(LAT, 120.30, **FULL).stay(240, every=15, **FULL)
    tr.place(LAT + metres / M_LAT, 120.30).stay(240, every=15, **FULL)
    return unload_and_park(tr)


def gate_drift(metres: float) -> list:
    """gate_drift_m: a truck without a load sensor stands 15 m inside T1's gate for 10
    minutes; every 2.5 minutes two fixes in a row drift ``metres`` outside."""
    tr = loaded_at_site(sensor=False).drive(LAT, T1_WEST - 80 / M_LNG, kmh=40)
    for i in range(20):
        out = i % 5 in (4, 0) and i > 0
        tr.place(LAT, T1_WEST + (-metres if out else 15) / M_LNG).stay(30)
    return tr.drive(*D1, kmh=40).stay(5 * 3600, every=300).pings


def queue_at(metres: float) -> list:
    """queue_reach_m: loaded, stopped 8 minutes ``metres`` before T1's gate, then unloads."""
    tr = loaded_at_site().drive(LAT, T1_WEST - metres / M_LNG, kmh=40, **FULL)
    tr.stay(480, **FULL)
    return unload_and_park(tr)


def types(pings: list) -> list[str]:
    return run(pings).types()


def trip_count(pings: list) -> int:
    return len(run(pings).trips)


def rejected_jumps(pings: list) -> int:
    return run(pings).reasons().count("filter_impossible_jump")


def t1_exits(pings: list) -> int:
    return sum(e["fence"] == "S1" and e["detect"] == "exit" for e in run(pings).fence_events)


PAIRS = {
    # name: (measure, build, below, above, expected below, expected above)
    "dwell_ms": (trip_count, load_dwell, 180 - 10, 180 + 10, 0, 1),
    "suspicious_stop_ms": (
        types,
        loaded_stop,
        300 - 15,
        300 + 15,
        [],
        ["suspected_dumping"],
    ),
    "deviation_m": (
        types,
        parallel_road,
        150 - 10,
        150 + 10,
        [],
        ["route_deviation"],
    ),
    "deviation_ms": (
        types,
        detour,
        60 - 10,
        60 + 10,
        [],
        ["route_deviation"],
    ),
    "overspeed_ms": (
        types,
        lambda s: fast(70, s),
        30 - 5,
        30 + 5,
        [],
        ["overspeed"],
    ),
    "speed_limit_kmh muck": (types, fast, 59, 61, [], ["overspeed"]),
    "speed_limit_kmh kitchen": (
        types,
        lambda v: fast(v, vehicle="K1"),
        69,
        71,
        [],
        ["overspeed"],
    ),
    "speed_limit_kmh zone (L1, 40)": (
        types,
        lambda v: fast(v, lat=31.49),
        39,
        41,
        [],
        ["overspeed"],
    ),
    "uncovered_ms": (
        types,
        cover_open,
        30 - 5,
        30 + 5,
        [],
        ["uncovered_load"],
    ),
    "uncovered_speed_kmh": (
        types,
        lambda v: cover_open(120, v),
        5 - 1,
        5 + 1,
        [],
        ["uncovered_load"],
    ),
    "cooldown_ms": (
        types,
        two_overspeeds,
        600 - 15,
        600 + 15,
        ["overspeed"],
        ["overspeed", "overspeed"],
    ),
    "trip_deadline_ms": (
        types,
        late_unload,
        4 - 0.1,
        4 + 0.1,
        [],
        ["unmatched_source"],
    ),
    "trip_expiry_ms": (
        types,
        late_unload,
        12 - 0.2,
        12 + 0.2,
        ["unmatched_source"],
        ["unmatched_disposal", "unmatched_source"],
    ),
    "max_jump_kmh": (rejected_jumps, jump, 150 - 10, 150 + 10, 0, 1),
    "jump_min_m": (rejected_jumps, short_jump, 300 - 20, 300 + 20, 0, 1),
    "exit_hold_ms": (
        t1_exits,
        two_fixes_out,
        20 - 5,
        20 + 5,
        0,
        1,
    ),
    "stop_radius_m": (
        types,
        shifted_stop,
        60 - 10,
        60 + 10,
        ["suspected_dumping"],
        [],
    ),
    "gate_drift_m": (
        types,
        gate_drift,
        30 - 3,
        30 + 3,
        [],
        ["unmatched_source"],
    ),
    "queue_reach_m": (
        types,
        queue_at,
        200 - 10,
        200 + 10,
        [],
        ["suspected_dumping"],
    ),
}


@pytest.mark.parametrize("side", ["below", "above"])
@pytest.mark.parametrize("name", list(PAIRS))
def test_threshold_pair(name, side):
    measure, build, below, above, want_below, want_above = PAIRS[name]
    value, want = (below, want_below) if side == "below" else (above, want_above)
    assert measure(build(value)) == want, (name, side, value)
