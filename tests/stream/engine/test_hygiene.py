"""Ping hygiene: every reason code, table-driven, and nothing dropped silently."""

from __future__ import annotations

import math

import orjson
import pytest

from landun.cli import main as landun
from stream.engine import step
from stream.engine.events import Event, EventKind
from stream.engine.hygiene import REASONS, coordinate_reason, filter_zero, rejection
from stream.ping import Ping
from tests.stream.engine.world import (
    D1,
    LAT,
    bj,
    context,
    fences_geojson,
    registry_mapping,
    run,
)

T0 = bj("2025-06-01 21:00")
DAY_MS = 24 * 3600 * 1000
WEEK_MS = 7 * DAY_MS


def ping(ts_s: float = 0, lat: float = D1[0], lng: float = D1[1], vehicle: str = "M1", **kw):
    return Ping(vehicle, T0 + int(ts_s * 1000), lat, lng, speed_kmh=0.0, **kw)


def moving(n: int, vehicle: str = "M2", every: float = 30) -> list[Ping]:
    """A second vehicle's pings keeping the watermark honest."""
    return [ping(i * every, LAT, 120.26, vehicle) for i in range(n)]


# (reason, pings in arrival order, what the detail must show): the reason is expected for
# exactly one ping, and its detail names the offending value (issue 11: "rejections that don't
# say why").
CASES = [
    ("filter_non_finite", [ping(0), ping(30, lat=math.nan)], ("lat nan",)),
    ("filter_non_finite", [ping(0), ping(30, lng=math.inf)], ("lng inf",)),
    (
        "filter_swapped",
        [ping(0), ping(30, lat=D1[1], lng=D1[0])],
        ("lat 120.25, lng 31.5", "swapped back it lies in the service area"),
    ),
    ("filter_out_of_range", [ping(0), ping(30, lat=95.0, lng=120.3)], ("lat 95.0 outside",)),
    ("filter_out_of_range", [ping(0), ping(30, lat=31.5, lng=-190.0)], ("lng -190.0 outside",)),
    ("filter_zero", [ping(0), ping(30, lat=0.0, lng=0.0)], ("(0.000, 0.000) is Null Island",)),
    ("filter_zero", [ping(0), ping(30, lat=0.004, lng=-0.003)], ("(0.004, -0.003)",)),
    (
        "filter_outside_area",  # Beijing
        [ping(0), ping(30, lat=39.9, lng=116.4)],
        ("lat 39.9, lng 116.4", "outside the service area"),
    ),
    (
        "filter_future",
        # M1's own clock is the reference (issue 11): its first ping, then one 20 min ahead
        [*moving(20), ping(0, LAT, 120.27), ping(1200, lat=LAT, lng=120.27, vehicle="M1", seq=1)],
        ("2025-06-01T21:20:00+08:00", "ahead"),
    ),
    (
        "filter_future",  # a clock at the end of int64: named, not a crash
        [*moving(20), ping(0, LAT, 120.27), Ping("M1", 2**63 - 1, LAT, 120.27)],
        (str(2**63 - 1),),
    ),
    (
        "filter_too_old",  # 1999-12-31, a clock reset
        [ping(0), Ping("M1", 946_684_799_000, *D1)],
        ("2000-01-01T07:59:59+08:00 (946684799000)", "earliest valid time"),
    ),
    (
        "filter_too_old",  # epoch seconds, read as ms, land in 1970
        [ping(0), Ping("M1", 1_717_000_000, *D1)],
        (  # named as seconds, with the time they mean read so (issue 11)
            "ts 1717000000 looks like epoch seconds (2024-05-30T00:26:40+08:00 read as "
            "seconds); ts must be epoch milliseconds",
        ),
    ),
    (
        "filter_too_old",  # GPS week rollover
        [*moving(3), ping(0), Ping("M1", T0 - 1024 * WEEK_MS, *D1)],
        ("2005-10-16T21:00:00+08:00", "behind"),
    ),
    ("filter_duplicate", [ping(0), ping(30), ping(30)], ("2025-06-01T21:00:30+08:00",)),
    (
        "filter_duplicate",  # a late re-send
        [ping(0), ping(30), ping(60), ping(90), ping(30)],
        ("2025-06-01T21:00:30+08:00",),
    ),
    (
        "filter_impossible_jump",
        [ping(0), ping(30, lat=31.70), ping(60)],
        ("lat 31.7, lng 120.25", "last accepted fix"),
    ),
    ("filter_unknown_vehicle", [ping(0), ping(30, vehicle="X9")], ("vehicle 'X9'",)),
    ("stale", [ping(0), ping(30), ping(60), ping(20)], ("2025-06-01T21:00:20+08:00",)),
]


@pytest.mark.parametrize(
    ("reason", "pings", "shows"), CASES, ids=[f"{r}-{i}" for i, (r, _, _) in enumerate(CASES)]
)
def test_each_reason(reason, pings, shows):
    outcome = run(pings)
    assert outcome.reasons() == [reason]
    (rejected,) = outcome.rejected
    vehicle = rejected["ping"]["vehicle"]
    assert vehicle in ("M1", "X9") and rejected["vehicle"] == vehicle
    for text in shows:
        assert text in rejected["detail"]


def test_every_reason_code_is_covered():
    engine_reasons = set(REASONS) - {"bad_json", "bad_field"}  # the file reader's: see below
    assert {r for r, _, _ in CASES} == engine_reasons


def test_rejections_carry_the_ping_and_its_ref():
    outcome = run([ping(0), ping(30, lat=0.0, lng=0.0, seq=7, ref=42)])
    (rejected,) = outcome.rejected
    assert rejected["ref"] == 42 and rejected["ping"]["seq"] == 7
    assert set(rejected) == {"reason", "detail", "ref", "vehicle", "ping"}


def test_a_rejection_is_a_typed_event():
    """Issue 11 typed the engine's events: rejections are Event(EventKind.REJECTED, ...) too,
    not a bare ("rejected", payload) pair (still equal to one, for older consumers)."""
    event = rejection(ping(0, lat=0.0, lng=0.0), "filter_zero")
    assert isinstance(event, Event) and event.kind is EventKind.REJECTED
    assert event == ("rejected", event.payload)


# What a caller that knows more (the reference time, the jump's speed, the context) adds.
LATE = Ping("M1", T0 + 2 * DAY_MS + 5 * 60_000, *D1)  # 2 days and 5 minutes ahead of T0
CALLER_CASES = [
    ("filter_future", LATE, {"ref_ms": T0}, ("2 d 5 min ahead of 2025-06-01T21:00:00+08:00",)),
    ("filter_future", LATE, {}, ("2025-06-03T21:05:00+08:00",)),
    (
        "filter_too_old",
        Ping("M1", T0 - 8 * DAY_MS, *D1),
        {"ref_ms": T0},
        ("8 d behind 2025-06-01T21:00:00+08:00", "limit 7 d"),
    ),
    (
        "filter_impossible_jump",
        ping(30, lat=31.70),
        {"speed_kmh": 2669.4, "distance_m": 22_240.2},
        ("implied 2669 km/h over 22240 m", "limit 150 km/h"),
    ),
    ("stale", ping(20), {"ref_ms": T0 + 60_000}, ("40 s older", "at 2025-06-01T21:01:00+08:00")),
    (
        "filter_outside_area",
        ping(30, lat=39.9, lng=116.4),
        {"ctx": context()},
        ("lat 39.9, lng 116.4", "lat 30.600..32.500"),
    ),
    (
        "filter_zero",
        ping(30, lat=0.0, lng=0.0),
        {"ctx": context(zero_deg=0.05)},
        ("(0.000, 0.000) is Null Island", "0.05"),
    ),
]


@pytest.mark.parametrize(("reason", "p", "known", "shows"), CALLER_CASES)
def test_what_the_caller_knows_goes_into_the_detail(reason, p, known, shows):
    _, rejected = rejection(p, reason, **known)
    for text in shows:
        assert text in rejected["detail"]


def test_the_callers_words_follow_the_offending_value():
    _, rejected = rejection(ping(30, vehicle="X9"), "filter_unknown_vehicle", "no longer listed")
    assert rejected["detail"] == "vehicle 'X9' is not in the registry; no longer listed"
    assert rejected["vehicle"] == "X9"


@pytest.mark.parametrize(
    ("line", "reason", "shows"),
    [
        (b"{not json", "bad_json", "not JSON"),
        (
            b'{"vehicle": "M1", "ts": "yesterday", "lat": 31.5, "lng": 120.3}',
            "bad_field",
            "yesterday",
        ),
        (b'{"vehicle": "M1", "ts": 1748782800000, "lat": "abc", "lng": 120.3}', "bad_field", "abc"),
    ],
)
def test_unreadable_lines_say_why(tmp_path, line, reason, shows):
    """The reader's reasons, through ``landun detect`` (their vehicle id is H2a's part)."""
    (tmp_path / "fences.geojson").write_bytes(orjson.dumps(fences_geojson()))
    (tmp_path / "registry.json").write_bytes(orjson.dumps(registry_mapping()))
    (tmp_path / "pings.jsonl").write_bytes(line + b"\n")
    args = ["detect", "--out", str(tmp_path / "alerts.jsonl")]
    args += ["--rejected", str(tmp_path / "rejected.jsonl")]
    for name in ("fences.geojson", "registry.json", "pings.jsonl"):
        args += [f"--{name.split('.')[0]}", str(tmp_path / name)]
    assert landun(args) == 0
    (rejected,) = [orjson.loads(r) for r in (tmp_path / "rejected.jsonl").read_bytes().splitlines()]
    assert rejected["reason"] == reason and shows in rejected["detail"]
    assert reason in REASONS


def test_nothing_is_dropped_silently():
    """Every ping is either applied (it moves a track) or rejected with a reason."""
    pings = [p for _, ps, _ in CASES for p in ps]
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
    # M1's second ping, an hour after its first, agrees with its third (issue 11: own clock)
    late = [ping(3600, lat=31.60), ping(3630, lat=31.60)]
    outcome = run([ping(0), *moving(120, every=60)[1:], *late])
    assert outcome.reasons() == []


def test_quiet_fleet_is_not_the_future():
    """Everyone silent for 20 minutes: the next pings move the watermark on; none is lost."""
    pings = [ping(0), ping(0, LAT, 120.26, "M2"), ping(1200), ping(1200, LAT, 120.26, "M2")]
    pings += [ping(1230), ping(1230, LAT, 120.26, "M2")]
    assert run(pings).reasons() == []


def test_future_ping_waits_then_is_rejected_when_no_one_agrees():
    pings = [ping(0), *moving(5), ping(3600, vehicle="M1"), *moving(10)[5:], ping(30)]
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
