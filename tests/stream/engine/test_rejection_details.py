"""Rejection details quote the run's own numbers, not the defaults (issue 11 review).

Each case runs through ``process``/``finish`` with thresholds other than the defaults and asks
the detail for the numbers of that run: the limit that applied, and the value that broke it.
The words the review found wrong ("implied speed from last fix" with no speed, "no longer in the
registry" after "is not in the registry", "40000 ms older") must be gone.
"""

from __future__ import annotations

import pytest

from stream.engine import finish, process
from stream.ping import Ping
from stream.registry import Registry
from tests.stream.engine.world import D1, LAT, bj, context, parked, registry_mapping, run

T0 = bj("2025-06-01 21:00")


def ping(ts_s: float = 0, lat: float = D1[0], lng: float = D1[1], **kw) -> Ping:
    return Ping("M1", T0 + int(ts_s * 1000), lat, lng, speed_kmh=0.0, **kw)


# (case, the run's thresholds, pings in arrival order, reason, the detail shows, must not show)
CASES = [
    (
        "zero within the run's zero_deg",
        {"zero_deg": 0.5},
        [ping(0), ping(30, lat=0.3, lng=0.2)],
        "filter_zero",
        ["(0.300, 0.200) is Null Island", "within 0.5\N{DEGREE SIGN} of (0, 0)"],
        ["0.01"],
    ),
    (
        "before the run's min_valid_ts",  # 2025-01-01 Beijing; a ping of 2024-12-31
        {"min_valid_ts": bj("2025-01-01 00:00")},
        [ping(0), Ping("M1", bj("2024-12-31 12:00"), *D1)],
        "filter_too_old",
        [
            "ts 2024-12-31T12:00:00+08:00",
            "before the earliest valid time 2025-01-01T00:00:00+08:00",
        ],
        ["behind"],
    ),
    (
        "outside the run's area box",  # margin 10 km instead of 50 km
        {"outside_margin_km": 10.0},
        [ping(0), ping(30, lat=39.9, lng=116.4)],
        "filter_outside_area",
        ["lat 39.9, lng 116.4", "lat 30.960..32.140"],
        [],
    ),
    (
        "jump: the implied speed and distance, the run's limit",
        {"max_jump_kmh": 100.0, "jump_min_m": 200.0},
        [ping(0), ping(30, lat=LAT + 0.2), ping(60)],  # 22.2 km in 30 s
        "filter_impossible_jump",
        ["implied 2669 km/h over 22239 m from the last accepted fix", "limit 100 km/h over 200 m"],
        ["implied speed from last fix", "150 km/h"],
    ),
    (
        "stale: how far behind the live stream, in words",
        {"reorder_ms": 10_000},
        [ping(0), ping(30), ping(60), ping(20)],  # 20 s came after 30 s was released
        "stale",
        [
            "ts 2025-06-01T21:00:20+08:00 (1748782820000) is 10 s older than the vehicle's "
            "live stream at 2025-06-01T21:00:30+08:00",
            "reorder window 10 s",
        ],
        ["ms older"],
    ),
]


@pytest.mark.parametrize(
    ("overrides", "pings", "reason", "shows", "hides"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_the_detail_quotes_the_runs_thresholds(overrides, pings, reason, shows, hides):
    outcome = run(pings, context(**overrides))
    assert outcome.reasons() == [reason]
    detail = outcome.rejected[0]["detail"]
    for text in shows:
        assert text in detail, detail
    for text in hides:
        assert text not in detail, detail


def test_a_vehicle_removed_while_its_pings_were_buffered_is_named_so():
    ctx = context(reorder_ms=60_000)
    pings = [ping(0), ping(30)]  # both held in the 60 s reorder window
    states, _ = process(pings, ctx)
    assert len(states.vehicles["M1"].pending) == 2
    reg = registry_mapping()
    reg["vehicles"] = [v for v in reg["vehicles"] if v["id"] != "M1"]
    reg["permits"] = [p for p in reg["permits"] if "M1" not in p["vehicles"]]
    ctx.registry = Registry.from_mapping(reg)
    ctx.refresh()
    states, events = process(parked(start="2025-06-01 21:00", hours=0.2).pings, ctx, states)
    states, more = finish(ctx, states)
    details = [e["detail"] for kind, e in events + more if kind == "rejected"]
    assert (
        details
        == [
            "vehicle 'M1' is not in the registry; "
            "removed from the registry while its pings were buffered"
        ]
        * 2
    )
