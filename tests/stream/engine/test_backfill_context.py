"""Backfilled pings are judged in their own time: the trip as it was then, and crossings only
between consecutive pings of one blind area (regressions found on simulator seeds 1, 13, 23)."""

from __future__ import annotations

import dataclasses

import pytest

from stream.ping import Ping
from tests.stream.engine.world import LAT, S1, T1, Trace, context, run


def as_backfill(pings: list[Ping]) -> list[Ping]:
    return [dataclasses.replace(p, backfill=True) for p in pings]


def sensorless_night() -> tuple[list[Ping], list[Ping], list[Ping]]:
    """A truck without a load sensor (``loaded`` never reported): load at S1, corridor to T1,
    unload, then back to S1 empty by a side road 1.1 km north of the corridor in a blind area,
    second load, corridor to T1.

    Returns the live pings before the blind area, the blind-area pings and the live pings
    after it.
    """
    tr = Trace("M1", "2025-06-01 21:00").stay(60).drive(*S1, kmh=30).stay(360)
    tr.drive(*T1, kmh=40).stay(360)
    start = len(tr.pings)
    tr.drive(31.51, 120.33).drive(31.51, 120.27).drive(*S1)
    end = len(tr.pings)
    tr.stay(360).drive(*T1, kmh=40).stay(360).drive(LAT, 120.30, kmh=40)
    return tr.pings[:start], tr.pings[start:end], tr.pings[end:]


def test_backfilled_empty_drive_after_the_next_load_is_not_loaded():
    before, dark, after = sensorless_night()
    # the batch arrives once the second load dwell has opened a trip (8 minutes in)
    outcome = run(before + after[:16] + as_backfill(dark) + after[16:])
    trips = sorted(outcome.trips.values(), key=lambda t: t["load_ts"])
    assert [t["status"] for t in trips] == ["delivered", "delivered"]
    assert outcome.types() == []
    assert outcome.reasons() == []


def test_in_order_the_same_night_is_clean_too():
    """Control: with the same pings in event-time order nothing is raised either, so the
    late arrival alone made the difference."""
    before, dark, after = sensorless_night()
    assert run(before + dark + after).types() == []


def test_backfilled_detour_of_an_earlier_trip_is_charged_to_that_trip():
    """Loaded, the truck leaves the corridor 550 m north for 1 km in a blind area of under
    10 minutes, unloads at T1 and loads again; the batch arrives during the second load."""
    tr = Trace("M1", "2025-06-01 21:00").stay(60).drive(*S1, kmh=30).stay(360)
    tr.drive(LAT, 120.29, kmh=40)
    start = len(tr.pings)
    tr.drive(31.505, 120.29).drive(31.505, 120.30).drive(LAT, 120.30)
    end = len(tr.pings)
    tr.drive(*T1, kmh=40).stay(360).drive(*S1, kmh=40)
    second_load = len(tr.pings) - end + 10  # 5 minutes into the second load dwell
    tr.stay(360).drive(LAT, 120.30, kmh=40)
    before, dark, after = tr.pings[:start], tr.pings[start:end], tr.pings[end:]
    outcome = run(before + after[:second_load] + as_backfill(dark) + after[second_load:])
    first, second = sorted(outcome.trips.values(), key=lambda t: t["load_ts"])
    assert first["status"] == "delivered" and second["status"] == "open"
    (alert,) = outcome.of("route_deviation")
    assert alert["late"] is True
    assert alert["trip"] == first["id"] and alert["permit"] == "P-1"
    off = next(p for p in dark if p.lat > LAT + 0.0019)  # first ping past 60 + 150 m
    assert (alert["lat"], alert["lng"]) == (off.lat, off.lng)


def two_blind_areas_either_side_of_z2() -> tuple[list[Ping], list[Ping], list[Ping]]:
    """A kitchen vehicle north of the always-restricted strip Z2 (31.430) goes dark for a few
    minutes, later drives round the strip's east end to its south side and goes dark again.
    Returns all live pings, and the two blind-area batches."""
    tr = Trace("K1", "2025-06-01 21:00").place(31.445, 120.38)
    tr.drive(31.445, 120.385, kmh=30)
    a = len(tr.pings)
    tr.drive(31.445, 120.395, kmh=30)  # blind area 1, north of Z2
    b = len(tr.pings)
    tr.drive(31.445, 120.42, kmh=30).drive(31.42, 120.42, kmh=30).drive(31.42, 120.41, kmh=30)
    c = len(tr.pings)
    tr.drive(31.42, 120.40, kmh=30).drive(31.42, 120.39, kmh=30)  # blind area 2, south of Z2
    d = len(tr.pings)
    tr.drive(31.42, 120.37, kmh=30).stay(120)
    live = tr.pings[:a] + tr.pings[b:c] + tr.pings[d:]
    return live, tr.pings[a:b], tr.pings[c:d]


@pytest.mark.parametrize("gap_min", [5, 120])
def test_two_blind_areas_are_not_joined_into_one_track(gap_min):
    """Each blind area is its own segment (a live ping lies between them), so even with a
    crossing gap long enough to span both, nothing joins them."""
    live, batch1, batch2 = two_blind_areas_either_side_of_z2()
    # batch 1 arrives a little after live reports resume; batch 2 at the very end
    resumed = next(i for i, p in enumerate(live) if p.ts > batch1[-1].ts) + 2
    pings = live[:resumed] + as_backfill(batch1) + live[resumed:] + as_backfill(batch2)
    outcome = run(pings, context(crossing_gap_ms=gap_min * 60_000))
    assert outcome.of("restricted_zone") == []
    assert [e for e in outcome.fence_events if e["fence"] == "Z2"] == []
    assert outcome.reasons() == []


def long_silence_across_z2() -> list[Ping]:
    """North of Z2, silent for 20 minutes, then reports resume south of it."""
    tr = Trace("K1", "2025-06-01 21:00").place(31.445, 120.40)
    tr.drive(31.44, 120.40, kmh=20).wait(20 * 60)
    tr.place(31.42, 120.40).drive(31.415, 120.40, kmh=20)
    return tr.pings


def test_no_crossing_over_a_gap_longer_than_the_threshold():
    assert run(long_silence_across_z2()).of("restricted_zone") == []


def test_the_crossing_gap_is_a_setting():
    """Not vacuous: allowed a 30-minute gap, the same straight line does cross Z2."""
    outcome = run(long_silence_across_z2(), context(crossing_gap_ms=30 * 60_000))
    (alert,) = outcome.of("restricted_zone")
    assert alert["fence"] == "Z2" and alert["evidence"]["crossed"] is True
