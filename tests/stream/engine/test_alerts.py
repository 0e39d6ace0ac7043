"""Scenario table: each alert type, and near misses that must not raise it."""

from __future__ import annotations

import re

import pytest

from stream.engine import ALERT_TYPES
from stream.eventtime import iso_ts
from tests.stream.engine.world import (
    LAT,
    P1,
    R1,
    R2,
    S1,
    T1,
    T2,
    Trace,
    merged,
    muck_trip,
    parked,
    run,
)

FULL = {"loaded": "full"}


def loaded_at_site(start: str = "2025-06-01 21:00", vehicle: str = "M1") -> Trace:
    """From the depot to S1, a 6-minute load; the truck is then full and at the site."""
    tr = Trace(vehicle, start).stay(60).drive(*S1, kmh=30)
    return tr.stay(300, loaded="empty").stay(60, **FULL)


def clean_trip():
    return muck_trip().pings


def unmatched_source():
    tr = loaded_at_site().drive(LAT, 120.251, **FULL)  # back along C1 into the depot
    return tr.stay(5 * 3600, every=300, **FULL).pings


def unmatched_disposal():
    tr = Trace("M1", "2025-06-01 21:00").drive(*T1, kmh=40, **FULL)  # through S1 without a stop
    return tr.stay(360, **FULL).stay(120, loaded="empty").drive(LAT, 120.31).pings


def unapproved_terminal():
    tr = loaded_at_site().drive(LAT, 120.300, **FULL).drive(*T2, kmh=20, **FULL)
    return tr.stay(400, **FULL).stay(60, loaded="empty").drive(LAT, 120.30, kmh=20).pings


def unpermitted_vehicle():
    tr = loaded_at_site(vehicle="M2").drive(*T1, **FULL).stay(400, **FULL)
    return tr.stay(60, loaded="empty").pings


def unpermitted_hours():
    tr = loaded_at_site("2025-06-01 14:00").drive(*T1, **FULL).stay(400, **FULL)
    return tr.stay(60, loaded="empty").pings


def unpermitted_expired():
    tr = loaded_at_site("2026-01-05 21:00").drive(*T1, **FULL).stay(400, **FULL)
    return tr.stay(60, loaded="empty").pings


def route_deviation(north: float = 0.006):
    tr = loaded_at_site().drive(LAT, 120.29, **FULL).drive(LAT + north, 120.295, **FULL)
    tr.drive(LAT + north, 120.305, **FULL).drive(LAT, 120.31, **FULL).drive(*T1, **FULL)
    return tr.stay(400, **FULL).stay(60, loaded="empty").pings


def restricted(start: str, vehicle: str = "M1"):
    return Trace(vehicle, start).place(31.455, 120.27).drive(31.455, 120.31, kmh=30).pings


def restricted_crossing():
    tr = Trace("M1", "2025-06-01 12:00").place(31.42, 120.40)
    return tr.drive(31.44, 120.40, kmh=40, every=30).pings


def overspeed(kmh: float, seconds: float, lat=LAT, lng0=120.28, vehicle="M1"):
    tr = Trace(vehicle, "2025-06-01 23:00").place(lat, lng0)
    metres = kmh / 3.6 * seconds
    return tr.drive(lat, lng0 + metres / 95_000, kmh=kmh, every=10).drive(lat, lng0, kmh=30).pings


def dumping_stop(minutes: float, loaded: str = "full"):
    tr = loaded_at_site().drive(LAT, 120.30, **FULL).stay(minutes * 60, loaded=loaded)
    return tr.drive(*T1, loaded=loaded).stay(400, loaded=loaded).stay(60, loaded="empty").pings


def lift_at(lat: float, lng: float):
    tr = loaded_at_site().drive(lat, lng, **FULL).stay(60, lift=True, **FULL)
    return tr.drive(*T1, loaded="empty").stay(400, loaded="empty").pings


def signal_lost(silence_s: float):
    tr = loaded_at_site().drive(LAT, 120.262, **FULL).wait(silence_s).place(LAT, 120.345)
    tr.drive(*T1, kmh=30, **FULL).stay(400, **FULL).stay(60, loaded="empty")
    return merged(tr, parked())


def uncovered(loaded: str = "full", kmh: float = 40):
    tr = loaded_at_site().drive(LAT, 120.29, kmh=kmh, every=10, cover_open=True, loaded=loaded)
    return tr.drive(*T1, loaded=loaded).stay(400, loaded=loaded).pings


def kitchen_stop(at, vehicle: str = "K1"):
    tr = Trace(vehicle, "2025-06-01 09:00").drive(*at, kmh=30).stay(300)
    return tr.drive(*P1).stay(300).pings


def unsourced():
    """Out of the depot to the plant: a delivery with no collection before it (issue 11)."""
    tr = Trace("K1", "2025-06-01 09:00").drive(*P1, kmh=30).stay(300)
    return tr.drive(31.47, 120.251).stay(60).pings


def undelivered(deliver: bool):
    tr = Trace("K1", "2025-06-01 09:00").drive(*R1, kmh=30).stay(300)
    if deliver:
        tr.drive(*P1).stay(300)
    return tr.drive(31.47, 120.251).stay(7 * 3600, every=300).pings


CASES = {
    "clean trip": (clean_trip, []),
    "unmatched_source": (unmatched_source, ["unmatched_source"]),
    "unmatched_disposal": (unmatched_disposal, ["unmatched_disposal"]),
    "unapproved_terminal": (unapproved_terminal, ["unapproved_terminal"]),
    "unpermitted: vehicle": (unpermitted_vehicle, ["unpermitted_load"]),
    "unpermitted: hours": (unpermitted_hours, ["unpermitted_load"]),
    "unpermitted: expired": (unpermitted_expired, ["unpermitted_load"]),
    "route_deviation": (route_deviation, ["route_deviation"]),
    "route: within tolerance": (lambda: route_deviation(north=0.0012), []),
    "restricted_zone: in hours": (lambda: restricted("2025-06-02 08:00"), ["restricted_zone"]),
    "restricted: out of hours": (lambda: restricted("2025-06-02 12:00"), []),
    "restricted: other kind": (lambda: restricted("2025-06-02 08:00", "K1"), []),
    "restricted_zone: crossing": (restricted_crossing, ["restricted_zone"]),
    "overspeed": (lambda: overspeed(75, 120), ["overspeed"]),
    "overspeed: too short": (lambda: overspeed(75, 20), []),
    "overspeed: zone limit": (lambda: overspeed(50, 60, 31.49, 120.365), ["overspeed"]),
    "overspeed: kitchen limit": (lambda: overspeed(65, 120, vehicle="K1"), []),
    "suspected_dumping: stop": (lambda: dumping_stop(8), ["suspected_dumping"]),
    "dumping: short stop": (lambda: dumping_stop(4), []),
    "dumping: empty stop": (lambda: dumping_stop(8, loaded="empty"), []),
    "suspected_dumping: lift": (lambda: lift_at(LAT, 120.30), ["suspected_dumping"]),
    "dumping: lift at terminal": (lambda: lift_at(*T1), []),
    "signal_lost": (lambda: signal_lost(900), ["signal_lost"]),
    "signal: short silence": (lambda: signal_lost(480), []),
    "uncovered_load": (uncovered, ["uncovered_load"]),
    "uncovered: empty": (lambda: uncovered(loaded="empty"), []),
    "unregistered_collection": (lambda: kitchen_stop(R2), ["unregistered_collection"]),
    "unregistered: oil": (lambda: kitchen_stop(R2, "O1"), ["unregistered_collection"]),
    "kitchen: registered": (lambda: kitchen_stop(R1), []),
    "undelivered_collection": (lambda: undelivered(False), ["undelivered_collection"]),
    "kitchen: delivered": (lambda: undelivered(True), []),
    "unsourced_delivery": (unsourced, ["unsourced_delivery"]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_scenario_raises_exactly(name):
    build, expected = CASES[name]
    outcome = run(build())
    assert outcome.types() == expected, outcome.types()
    assert not [r for r in outcome.rejected if r["reason"] != "filter_duplicate"]


def test_every_alert_type_has_a_scenario():
    raised = {t for _, expected in CASES.values() for t in expected}
    assert raised == set(ALERT_TYPES)


ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?\+08:00$")
FIELDS = [
    "id",
    "type",
    "vehicle",
    "district",
    "severity",
    "ts",
    "ended_ts",
    "lat",
    "lng",
    "fence",
    "permit",
    "trip",
    "late",
    "evidence",
]


@pytest.mark.parametrize("name", [n for n, (_, e) in CASES.items() if e])
def test_alert_records_follow_the_contract(name):
    build, _ = CASES[name]
    for alert in run(build()).alerts.values():
        assert list(alert) == FIELDS
        assert ISO.match(alert["ts"])
        assert alert["ended_ts"] is None or ISO.match(alert["ended_ts"])
        assert alert["severity"] in ("low", "medium", "high", "critical")
        assert isinstance(alert["late"], bool)
        evidence = alert["evidence"]
        assert evidence["rule"] and isinstance(evidence["thresholds"], dict)
        assert evidence["pings"] and all(ISO.match(p["ts"]) for p in evidence["pings"])


def test_unmatched_source_is_dated_at_departure_from_the_site():
    outcome = run(unmatched_source())
    (alert,) = outcome.of("unmatched_source")
    (trip,) = outcome.trips.values()
    assert alert["ts"] == trip["departed_ts"]
    assert alert["fence"] == "S1" and alert["permit"] == "P-1" and alert["trip"] == trip["id"]
    assert trip["status"] == "open" and trip["overdue"]


def test_clean_trip_is_one_delivered_manifest():
    (trip,) = run(clean_trip()).trips.values()
    assert (trip["site"], trip["permit"], trip["unload_fence"]) == ("S1", "P-1", "T1")
    assert trip["status"] == "delivered" and not trip["overdue"]


def test_trip_to_a_terminal_not_on_the_permit():
    outcome = run(unapproved_terminal())
    (alert,) = outcome.of("unapproved_terminal")
    (trip,) = outcome.trips.values()
    assert alert["fence"] == "T2" and alert["permit"] == "P-1"
    assert trip["status"] == "unapproved" and trip["unload_fence"] == "T2"
    assert alert["evidence"]["approved_terminals"] == ["T1", "W1"]


def test_unpermitted_load_says_why():
    reasons = {
        "vehicle": unpermitted_vehicle,
        "hours": unpermitted_hours,
        "date": unpermitted_expired,
    }
    for word, build in reasons.items():
        (alert,) = run(build()).of("unpermitted_load")
        assert word in alert["evidence"]["reason"], alert["evidence"]["reason"]


def test_overspeed_in_a_zone_names_the_limiting_fence():
    (alert,) = run(overspeed(50, 60, 31.49, 120.365)).of("overspeed")
    assert alert["fence"] == "L1"
    assert alert["evidence"]["thresholds"]["limit_kmh"] == 40
    assert alert["ended_ts"] is not None


def test_overspeed_is_dated_at_the_first_ping_over_the_limit():
    pings = overspeed(75, 120)
    first = next(p for p in pings if p.speed_kmh > 60)
    (alert,) = run(pings).of("overspeed")
    assert alert["ts"] == iso_ts(first.ts) and alert["lat"] == first.lat
    assert alert["evidence"]["pings"][0]["seq"] == first.seq


def test_restricted_crossing_between_sparse_pings_is_interpolated():
    outcome = run(restricted_crossing())
    (alert,) = outcome.of("restricted_zone")
    assert alert["evidence"]["crossed"] is True
    assert 31.430 <= alert["lat"] <= 31.4305  # the entry point, on the zone's edge
    assert alert["ts"] < alert["ended_ts"]
    assert [e["detect"] for e in outcome.fence_events if e["fence"] == "Z2"] == ["cross"]


def test_restricted_crossing_by_a_long_segment_far_from_both_ends():
    """One 3.3 km segment (2 min 52 s at 70 km/h) over Z2, neither end within the near-zone
    reach of its box (context.CROSS_REACH_M): the crossing is still found."""
    tr = Trace("K1", "2025-06-01 12:00").place(31.40, 120.40).drive(31.415, 120.40, kmh=70)
    pings = tr.drive(31.445, 120.40, kmh=70, every=180).pings
    assert [p.lat for p in pings[-2:]] == [31.415, 31.445]
    (alert,) = run(pings).of("restricted_zone")
    assert alert["fence"] == "Z2" and alert["evidence"]["crossed"] is True


def test_signal_lost_reappearing_8_km_away():
    outcome = run(signal_lost(900))
    (alert,) = outcome.of("signal_lost")
    before, after = alert["evidence"]["pings"]
    assert alert["ts"] == before["ts"] and alert["ended_ts"] == after["ts"]
    assert 7_500 < alert["evidence"]["gap_m"] < 8_500
    assert alert["evidence"]["gap_s"] >= 900
    assert alert["trip"] is not None and alert["permit"] == "P-1"


def test_signal_lost_raised_by_the_watermark_when_the_truck_never_returns():
    tr = loaded_at_site().drive(LAT, 120.262, **FULL)
    outcome = run(merged(tr, parked(hours=2)))
    (alert,) = outcome.of("signal_lost")
    assert alert["ended_ts"] is None
    assert alert["ts"] == outcome.of("signal_lost")[0]["evidence"]["pings"][0]["ts"]


def test_no_extrapolation_past_the_last_ping():
    """A trip whose deadline lies after the last ping of the input raises nothing."""
    tr = loaded_at_site().drive(LAT, 120.251, **FULL).stay(3 * 3600, every=300, **FULL)
    assert run(tr.pings).types() == []


def test_kitchen_vehicle_stopping_at_an_unregistered_restaurant():
    pings = kitchen_stop(R2)
    (alert,) = run(pings).of("unregistered_collection")
    assert abs(alert["lat"] - R2[0]) < 1e-3 and abs(alert["lng"] - R2[1]) < 1e-3
    assert alert["ended_ts"] is not None
    assert alert["evidence"]["contracts"] == ["C-K1"]


def test_undelivered_collection_is_dated_at_the_first_collection():
    outcome = run(undelivered(False))
    (alert,) = outcome.of("undelivered_collection")
    (rnd,) = outcome.trips.values()
    assert alert["ts"] == rnd["start_ts"] and alert["fence"] == "R1"
    assert rnd["producers"] == ["R1"] and rnd["overdue"]


def test_delivered_round_record():
    (rnd,) = run(undelivered(True)).trips.values()
    assert (rnd["kind"], rnd["producers"], rnd["plant"], rnd["status"]) == (
        "kitchen",
        ["R1"],
        "P1",
        "delivered",
    )


def test_alert_district_follows_the_fence_else_the_vehicle():
    (at_terminal,) = run(unmatched_disposal()).of("unmatched_disposal")
    assert at_terminal["district"] == "Xishan"  # T1's district
    (roadside,) = run(dumping_stop(8)).of("suspected_dumping")
    assert roadside["district"] == "Liangxi"  # M1's district


def test_cooldown_suppresses_a_second_episode_within_ten_minutes():
    tr = Trace("M1", "2025-06-01 23:00").place(LAT, 120.28)
    for _ in range(2):  # two 1-minute overspeed episodes 4 minutes apart
        tr.drive(LAT, 120.30, kmh=75, every=10).drive(LAT, 120.28, kmh=30, every=10)
    assert run(tr.pings).types() == ["overspeed"]


def test_cooldown_allows_episodes_further_apart():
    tr = Trace("M1", "2025-06-01 23:00").place(LAT, 120.28)
    tr.drive(LAT, 120.30, kmh=75, every=10).stay(900, every=60).drive(LAT, 120.32, kmh=75)
    assert run(tr.pings).types() == ["overspeed", "overspeed"]


def test_severity_per_type():
    assert run(dumping_stop(8)).of("suspected_dumping")[0]["severity"] == "critical"
    assert run(overspeed(75, 120)).of("overspeed")[0]["severity"] == "medium"


def test_departure_is_the_first_ping_outside_the_site():
    pings = muck_trip().pings
    outcome = run(pings)
    (trip,) = outcome.trips.values()
    exits = [e for e in outcome.fence_events if e["fence"] == "S1" and e["detect"] == "exit"]
    assert exits[0]["ts"] == trip["departed_ts"]  # the truck passes S1 again on the way home
    loading = [p for p in pings if p.loaded == "full" and abs(p.lng - S1[1]) < 1e-3]
    first_out = next(p for p in pings if p.ts > loading[-1].ts and abs(p.lng - S1[1]) > 1.1e-3)
    assert trip["departed_ts"] == iso_ts(first_out.ts)
