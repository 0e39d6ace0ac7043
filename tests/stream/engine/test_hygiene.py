"""Ping hygiene: every reason code, table-driven, and nothing dropped silently."""

from __future__ import annotations

import math

import pytest

from stream.engine import step
from stream.engine.hygiene import REASONS, coordinate_reason, filter_zero
from stream.ping import Ping
from tests.stream.engine.world import D1, LAT, bj, context, run

T0 = bj("2025-06-01 21:00")
WEEK_MS = 7 * 24 * 3600 * 1000


def ping(ts_s: float = 0, lat: float = D1[0], lng: float = D1[1], vehicle: str = "M1", **kw):
    return Ping(vehicle, T0 + int(ts_s * 1000), lat, lng, speed_kmh=0.0, **kw)


def moving(n: int, vehicle: str = "M2", every: float = 30) -> list[Ping]:
    """A second vehicle's pings keeping the watermark honest."""
    return [ping(i * every, LAT, 120.26, vehicle) for i in range(n)]


# (name, pings in arrival order, reason expected for exactly one of them)
CASES = [
    ("filter_non_finite", [ping(0), ping(30, lat=math.nan)]),
    ("filter_non_finite", [ping(0), ping(30, lng=math.inf)]),
    ("filter_swapped", [ping(0), ping(30, lat=D1[1], lng=D1[0])]),
    ("filter_out_of_range", [ping(0), ping(30, lat=95.0, lng=120.3)]),
    ("filter_out_of_range", [ping(0), ping(30, lat=31.5, lng=-190.0)]),
    ("filter_zero", [ping(0), ping(30, lat=0.0, lng=0.0)]),
    ("filter_zero", [ping(0), ping(30, lat=0.004, lng=-0.003)]),
    ("filter_outside_area", [ping(0), ping(30, lat=39.9, lng=116.4)]),  # Beijing
    ("filter_future", [*moving(20), ping(1200, lat=LAT, lng=120.27, vehicle="M1", seq=1)]),
    ("filter_too_old", [ping(0), Ping("M1", 946_684_799_000, *D1)]),  # 1999-12-31
    ("filter_too_old", [*moving(3), Ping("M1", T0 - 1024 * WEEK_MS, *D1)]),  # GPS week rollover
    ("filter_duplicate", [ping(0), ping(30), ping(30)]),
    ("filter_duplicate", [ping(0), ping(30), ping(60), ping(90), ping(30)]),  # a late re-send
    ("filter_impossible_jump", [ping(0), ping(30, lat=31.70), ping(60)]),
    ("filter_unknown_vehicle", [ping(0), ping(30, vehicle="X9")]),
    ("stale", [ping(0), ping(30), ping(60), ping(20)]),
]


@pytest.mark.parametrize(
    ("reason", "pings"), CASES, ids=[f"{r}-{i}" for i, (r, _) in enumerate(CASES)]
)
def test_each_reason(reason, pings):
    outcome = run(pings)
    assert outcome.reasons() == [reason]
    (rejected,) = outcome.rejected
    assert rejected["ping"]["vehicle"] in ("M1", "X9")


def test_every_reason_code_is_covered():
    engine_reasons = set(REASONS) - {"bad_json", "bad_field"}  # the file reader's, see test_detect
    assert {r for r, _ in CASES} == engine_reasons


def test_rejections_carry_the_ping_and_its_ref():
    outcome = run([ping(0), ping(30, lat=0.0, lng=0.0, seq=7, ref=42)])
    (rejected,) = outcome.rejected
    assert rejected["ref"] == 42 and rejected["ping"]["seq"] == 7 and rejected["detail"] == ""


def test_nothing_is_dropped_silently():
    """Every ping is either applied (it moves a track) or rejected with a reason."""
    pings = [p for _, ps in CASES for p in ps]
    for i, p in enumerate(pings):
        p.ref = i
    ctx = context()
    outcome = run(pings, ctx)
    rejected = {r["ref"] for r in outcome.rejected}
    assert len(rejected) == len(outcome.rejected)  # each rejected once
    # the others were applied: their event times are on the tracks' recent lists or earlier
    assert 0 < len(rejected) < len(pings)


def test_jump_filter_reanchors_after_consistent_pings():
    """If the last accepted fix was the bad one, the vehicle is not rejected forever."""
    far = [ping(30 * i, lat=31.70, lng=120.30) for i in range(1, 6)]
    outcome = run([ping(0), *far])
    assert outcome.reasons() == ["filter_impossible_jump"] * 2


def test_a_long_gap_is_not_a_jump():
    outcome = run([ping(0), *moving(120, every=60)[1:], ping(3600, lat=31.60, vehicle="M1")])
    assert outcome.reasons() == []


def test_quiet_fleet_is_not_the_future():
    """Everyone silent for 20 minutes: the next pings move the watermark on; none is lost."""
    pings = [ping(0), ping(0, LAT, 120.26, "M2"), ping(1200), ping(1200, LAT, 120.26, "M2")]
    pings += [ping(1230), ping(1230, LAT, 120.26, "M2")]
    assert run(pings).reasons() == []


def test_future_ping_waits_then_is_rejected_when_no_one_agrees():
    pings = [*moving(5), ping(3600, vehicle="M1"), *moving(10)[5:]]
    assert run(pings).reasons() == ["filter_future"]


def test_future_against_a_given_now():
    outcome = run([ping(0), ping(400)], now_ms=T0)
    assert outcome.reasons() == ["filter_future"]


def test_step_applies_static_and_clock_checks():
    ctx = context()
    state, events = step(None, ping(0, lat=0.0, lng=0.0), ctx)
    assert state is None and events[0][1]["reason"] == "filter_zero"
    state, events = step(None, ping(900), ctx, now_ms=T0)
    assert events[0][1]["reason"] == "filter_future"
    state, events = step(None, ping(0), ctx, now_ms=T0)
    assert state is not None and state.pending and events == []


@pytest.mark.parametrize(
    ("lat", "lng", "reason"),
    [
        (31.5, 120.3, None),
        (math.nan, 120.3, "filter_non_finite"),
        (120.3, 31.5, "filter_swapped"),
        (-91.0, 0.5, "filter_out_of_range"),
        (0.0, 0.0, "filter_zero"),
        (22.5, 114.1, "filter_outside_area"),  # Shenzhen
        (31.9, 120.9, None),  # just outside Wuxi, inside the margin
    ],
)
def test_coordinate_reasons(lat, lng, reason):
    assert coordinate_reason(lat, lng, context()) == reason


def test_zero_filter_radius():
    assert filter_zero(0.009, 0.009, 0.01) and not filter_zero(0.011, 0.0, 0.01)
