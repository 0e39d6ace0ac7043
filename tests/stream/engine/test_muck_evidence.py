"""Evidence an officer can act on, for the muck rules (issue 11, docs/formats.md "Evidence").

Distances are checked against shapely in a plane of the ellipsoid's local radii centred on the
point (an independent oracle of the engine's transverse-Mercator metric: they agree to a metre
or two over a few kilometres; a straight corridor line is a geodesic, which bows ~1 m from
the parallel over 10 km).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely

from stream.eventtime import iso_ts
from tests.stream.engine.world import D1, LAT, S1, T1, Trace, context, run

FULL = {"loaded": "full"}
EMPTY = {"loaded": "empty"}
A, F = 6378137.0, 1 / 298.257223563
E2 = F * (2 - F)


def oracle_m(geom, lat: float, lng: float) -> float:
    """Metres from (lat, lng) to a WGS-84 geometry, via shapely on a local plane."""
    s = math.sin(math.radians(lat))
    meridian = A * (1 - E2) / (1 - E2 * s * s) ** 1.5 * math.pi / 180  # metres per degree lat
    parallel = A / math.sqrt(1 - E2 * s * s) * math.cos(math.radians(lat)) * math.pi / 180

    scale = np.array([parallel, meridian])
    local = shapely.transform(geom, lambda c: (c - [lng, lat]) * scale)
    return shapely.distance(local, shapely.Point(0, 0))


def loaded_at_site(start: str = "2025-06-01 21:00") -> Trace:
    tr = Trace("M1", start).stay(60).drive(*S1, kmh=30)
    return tr.stay(300, **EMPTY).stay(60, **FULL)


@pytest.mark.parametrize(
    ("lat", "lng"),
    [(31.5036, 120.30), (31.5108, 120.31), (31.49, 120.36), (31.5, 120.40), (31.52, 120.20)],
)
def test_distance_off_a_corridor_agrees_with_shapely(lat, lng):
    ctx = context()
    area = ctx.fences["C1"].area
    got = ctx.nearby.distance("C1", lat, lng)
    want = oracle_m(area, lat, lng)
    assert abs(got - want) <= max(1.5, 0.003 * want), (got, want)


def test_distance_inside_a_fence_is_zero():
    assert context().nearby.distance("C1", LAT, 120.30) == 0.0


def deviation(north: float) -> list:
    """Loaded, the truck leaves C1 northwards by ``north`` degrees and comes back to T1."""
    tr = loaded_at_site().drive(LAT, 120.29, **FULL).drive(LAT + north, 120.295, **FULL)
    tr.drive(LAT + north, 120.305, **FULL).drive(LAT, 120.31, **FULL).drive(*T1, **FULL)
    return tr.stay(400, **FULL).stay(60, **EMPTY).pings


@pytest.mark.parametrize("north", [0.0036, 0.0060, 0.0108], ids=["400 m", "670 m", "1.2 km"])
def test_route_deviation_says_how_far_off_which_corridor(north):
    pings = deviation(north)
    outcome = run(pings)
    (alert,) = outcome.of("route_deviation")
    evidence = alert["evidence"]
    area = context().fences["C1"].area
    off = [oracle_m(area, p.lat, p.lng) for p in pings if p.lat > LAT + 0.0015]
    assert evidence["corridor"] == "C1"
    assert abs(evidence["peak_m"] - max(off)) <= 2.0, (evidence["peak_m"], max(off))
    assert 150 < evidence["mean_m"] < evidence["peak_m"]
    start, end = alert["ts"], alert["ended_ts"]
    breaking = [p for p in pings if start <= iso_ts(p.ts) < end]
    assert evidence["duration_s"] == (breaking[-1].ts - breaking[0].ts) // 1000
    assert evidence["duration_s"] > 60
    assert alert["permit"] == "P-1" and alert["trip"] is not None
    assert evidence["thresholds"] == {"deviation_m": 150.0, "sustain_s": 60.0}


def dump_stop(lat: float, lng: float, minutes: float = 7) -> list:
    tr = loaded_at_site().drive(LAT, lng, **FULL).drive(lat, lng, **FULL)
    tr.stay(minutes * 60, **FULL)
    return tr.drive(LAT, lng, **FULL).drive(*T1, **FULL).stay(400, **FULL).pings


def test_suspected_dump_stop_names_the_nearest_place():
    outcome = run(dump_stop(LAT, 120.30))
    (alert,) = outcome.of("suspected_dumping")
    evidence = alert["evidence"]
    want = oracle_m(context().fences["T2"].area, alert["lat"], alert["lng"])
    assert evidence["nearest_place"]["fence"] == "T2"
    assert evidence["nearest_place"]["kind"] == "terminal"
    assert abs(evidence["nearest_place"]["distance_m"] - want) <= 1.0
    assert (evidence["trigger"], evidence["lift"], evidence["loaded"]) == ("stop", False, "full")
    assert evidence["duration_s"] >= 7 * 60 - 60  # the whole stop, once it ended
    assert alert["ended_ts"] is not None and alert["permit"] == "P-1"


def test_no_nearest_place_beyond_5_km():
    (alert,) = run(dump_stop(LAT + 0.06, 120.30)).of("suspected_dumping")  # 6.6 km north
    assert alert["evidence"]["nearest_place"] is None


def test_suspected_dump_by_lift_on_the_move():
    tr = loaded_at_site().drive(LAT, 120.30, **FULL).drive(LAT, 120.305, lift=True, loaded="half")
    (alert,) = run(tr.drive(*T1, **EMPTY).pings).of("suspected_dumping")
    evidence = alert["evidence"]
    assert (evidence["trigger"], evidence["lift"], evidence["loaded"]) == ("lift", True, "half")
    assert evidence["duration_s"] == 0
    assert evidence["nearest_place"]["fence"] == "T2"


def test_overspeed_on_a_permitted_trip_names_the_trip_and_the_permit():
    tr = loaded_at_site().drive(LAT, 120.28, **FULL)
    tr.drive(LAT, 120.31, kmh=75, every=10, **FULL).drive(*T1, kmh=30, **FULL)
    pings = tr.stay(400, **FULL).stay(60, **EMPTY).pings
    outcome = run(pings)
    (alert,) = outcome.of("overspeed")
    (trip,) = outcome.trips.values()
    assert (alert["permit"], alert["trip"]) == ("P-1", trip["id"])
    evidence = alert["evidence"]
    over = [p for p in pings if p.speed_kmh > 60]
    assert evidence["limit_kmh"] == 60.0 and evidence["peak_kmh"] == 75
    assert evidence["speed_kmh"] == evidence["peak_kmh"]
    assert evidence["duration_s"] == (over[-1].ts - over[0].ts) // 1000


def test_overspeed_without_a_trip_has_none():
    tr = Trace("M1", "2025-06-01 23:00").place(LAT, 120.28).drive(LAT, 120.31, kmh=75, every=10)
    (alert,) = run(tr.drive(*D1, kmh=30).pings).of("overspeed")
    assert alert["permit"] is None and alert["trip"] is None


def test_uncovered_load_says_how_long_and_how_fast():
    tr = loaded_at_site().drive(LAT, 120.29, kmh=40, every=10, **FULL)
    tr.drive(LAT, 120.30, kmh=45, every=10, cover_open=True, **FULL)
    pings = tr.drive(*T1, **FULL).stay(400, **FULL).pings
    (alert,) = run(pings).of("uncovered_load")
    open_ = [p for p in pings if p.cover_open]
    assert alert["evidence"]["peak_kmh"] == 45
    assert alert["evidence"]["duration_s"] == (open_[-1].ts - open_[0].ts) // 1000
    assert alert["permit"] == "P-1"


@pytest.mark.parametrize("seed_name", ["route", "dump", "overspeed"])
def test_evidence_keys_are_the_contract(seed_name):
    """The keys docs/formats.md lists per type are all there."""
    keys = {
        "route_deviation": {"corridor", "peak_m", "mean_m", "duration_s"},
        "suspected_dumping": {"duration_s", "lift", "loaded", "nearest_place"},
        "overspeed": {"limit_kmh", "peak_kmh", "duration_s", "speed_kmh"},
    }
    build = {
        "route": lambda: deviation(0.006),
        "dump": lambda: dump_stop(LAT, 120.30),
        "overspeed": lambda: (
            Trace("M1", "2025-06-01 23:00")
            .place(LAT, 120.28)
            .drive(LAT, 120.31, kmh=75, every=10)
            .pings
        ),
    }[seed_name]
    for alert in run(build()).alerts.values():
        required = {"rule", "thresholds", "pings"} | keys.get(alert["type"], set())
        assert required <= set(alert["evidence"]), alert["type"]
