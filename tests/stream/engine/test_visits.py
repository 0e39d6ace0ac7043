"""Which dwells are loads, unloads, collections: scenarios from a review of the domain rules
(visits to neighbouring fences in a row; load sensors that say the truck stayed empty)."""

from __future__ import annotations

import dataclasses

from geofence import FenceIndex, load_fences
from stream.engine import EngineContext
from stream.engine.track_state import Track, Visit
from stream.registry import Registry
from tests.stream.engine.test_alerts import FULL, loaded_at_site
from tests.stream.engine.world import (
    D1,
    D2,
    LAT,
    P1,
    S1,
    T1,
    W1,
    Trace,
    _feature,
    fences_geojson,
    merged,
    parked,
    registry_mapping,
    run,
)

# Three restaurants of a food street, 400 m apart.
R3, R4, R5 = (31.48, 120.304), (31.48, 120.308), (31.48, 120.312)


def _food_street() -> EngineContext:
    fences = fences_geojson()
    for rid, (lat, lng) in (("R3", R3), ("R4", R4), ("R5", R5)):
        point = {"type": "Point", "coordinates": [lng, lat]}
        fences["features"].append(_feature(rid, "producer", point, radius_m=40))
    reg = registry_mapping()
    reg["contracts"][0]["producers"] += ["R3", "R4", "R5"]
    return EngineContext(FenceIndex(load_fences(fences)), Registry.from_mapping(reg))


def test_three_restaurants_served_in_a_row_are_three_collections():
    tr = Trace("K1", "2025-06-01 09:00").drive(*R3, kmh=30).stay(300)
    tr.drive(*R4, kmh=20).stay(300).drive(*R5, kmh=20).stay(300)
    tr.drive(*P1).stay(600).drive(*D2).stay(60)
    out = run(tr.pings, _food_street())
    rounds = list(out.trips.values())
    assert [r["producers"] for r in rounds] == [["R3", "R4", "R5"]]
    assert rounds[0]["status"] == "delivered" and out.types() == []


def _site_visit(start: str, **sensor) -> Trace:
    tr = Trace("M1", start).stay(60, **sensor).drive(*S1, kmh=30, **sensor)
    return (
        tr.stay(600, every=60, **sensor)
        .drive(*D1, kmh=30, **sensor)
        .stay(6 * 3600, every=300, **sensor)
    )


def test_a_truck_whose_sensor_says_empty_throughout_a_site_visit_loaded_nothing():
    out = run(merged(_site_visit("2025-06-01 21:00", loaded="empty"), parked()))
    assert out.types("M1") == [] and not out.trips
    # Outside its permit's hours the visit is no unpermitted load either.
    out = run(
        merged(_site_visit("2025-06-01 15:00", loaded="empty"), parked(start="2025-06-01 14:50"))
    )
    assert out.types("M1") == [] and not out.trips


def test_without_a_sensor_a_dwell_at_a_site_is_a_load():
    out = run(merged(_site_visit("2025-06-01 21:00"), parked()))
    assert out.types("M1") == ["unmatched_source"]


def test_a_load_reported_late_in_the_visit_counts_from_the_dwells_start():
    tr = Trace("M1", "2025-06-01 21:00").stay(60, loaded="empty").drive(*S1, kmh=30, loaded="empty")
    tr.stay(600, every=60, loaded="empty").stay(120, every=60, loaded="full")
    tr.drive(*D1, kmh=30, loaded="full").stay(6 * 3600, every=300, loaded="full")
    out = run(merged(tr, parked()))
    (trip,) = out.trips.values()
    assert (
        trip["site"] == "S1" and trip["load_ts"] < "2025-06-01T21:06"
    )  # not 21:15, when "full" came
    assert out.types("M1") == ["unmatched_source"]


def test_an_unload_listed_by_another_valid_permit_of_the_site_is_approved():
    reg = registry_mapping()
    reg["permits"][0]["terminals"] = ["T1"]
    second = {**reg["permits"][0], "id": "P-2", "terminals": ["W1"]}
    reg["permits"].append(second)
    ctx = EngineContext(FenceIndex(load_fences(fences_geojson())), Registry.from_mapping(reg))
    tr = loaded_at_site().drive(*W1, **FULL).stay(400, **FULL).stay(60, loaded="empty")
    out = run(tr.pings, ctx)
    (trip,) = out.trips.values()
    assert (trip["permit"], trip["status"], trip["unload_fence"]) == ("P-2", "delivered", "W1")
    assert out.types() == []


def test_a_truck_still_reporting_full_at_a_transfer_point_has_not_delivered():
    tr = loaded_at_site().drive(*W1, **FULL).stay(240, **FULL)  # waits at W1, still loaded
    tr.drive(LAT + 0.02, 120.36, kmh=30, **FULL).stay(300, **FULL)  # and drives off the route
    tr.stay(60, loaded="empty").drive(*D1, kmh=30, loaded="empty").stay(5 * 3600, every=300)
    out = run(merged(tr, parked()))
    (trip,) = out.trips.values()
    assert trip["unload_fence"] is None and trip["status"] == "unmatched"
    assert "route_deviation" in out.types("M1") and "unmatched_source" in out.types("M1")


def test_visit_records_saved_before_the_emptied_flag_load_with_it_set():
    old = Track(visits={"W1": Visit(1, slow=5, prev=0, emptied=False)})
    saved = old.to_dict()
    saved["visits"]["W1"] = saved["visits"]["W1"][:13]
    assert Track.from_dict(saved).visits["W1"].to_list() == [*saved["visits"]["W1"], True]


def test_collections_in_a_blind_area_before_a_live_one_are_kept():
    """Dark from before R3 until inside R5; the batch comes after the R5 collection acted."""
    tr = Trace("K1", "2025-06-01 09:00").stay(60).drive(R3[0], R3[1] - 0.004, kmh=30)
    n_live = len(tr.pings)
    tr.drive(*R3, kmh=30).stay(300).drive(*R4, kmh=20).stay(300)
    tr.drive(R5[0], R5[1] - 0.0003, kmh=20)
    n_dark = len(tr.pings)
    tr.drive(*R5, kmh=10).stay(300).drive(*P1).stay(600).drive(*D2).stay(60)
    live1, dark, live2 = tr.pings[:n_live], tr.pings[n_live:n_dark], tr.pings[n_dark:]
    batch = [dataclasses.replace(p, backfill=True) for p in dark]
    out = run(live1 + live2[:20] + batch + live2[20:], _food_street())
    (rnd,) = out.trips.values()
    assert sorted(rnd["producers"]) == ["R3", "R4", "R5"] and out.types() == []


def test_permit_hours_are_the_windows_in_which_loads_may_leave():
    """P-1's hours are 20:00-06:00: queuing at the site from 19:40 and leaving at 20:09 is
    legal; starting to load at 05:45 and leaving at 06:25 is not."""
    early = Trace("M1", "2025-06-01 19:30").stay(60).drive(*S1, kmh=30)
    early.stay(25 * 60, every=180, loaded="empty").stay(10 * 60, every=60, loaded="full")
    early.drive(*T1, kmh=40, **FULL).stay(360, **FULL).stay(60, loaded="empty")
    out = run(early.pings)
    assert out.types() == [] and [t["permit"] for t in out.trips.values()] == ["P-1"]

    late = Trace("M1", "2025-06-02 05:40").stay(60).drive(*S1, kmh=30)
    late.stay(40 * 60, every=60, loaded="full")
    late.drive(*T1, kmh=40, **FULL).stay(360, **FULL).stay(60, loaded="empty")
    out = run(late.pings)
    (alert,) = out.of("unpermitted_load")
    (trip,) = out.trips.values()
    assert alert["ts"] == trip["load_ts"] and alert["evidence"]["departed"] == trip["departed_ts"]
    assert trip["permit"] is None


def test_a_load_on_the_permits_last_day_may_leave_after_midnight():
    reg = registry_mapping()
    reg["permits"][0]["valid_to"] = "2025-06-01"
    ctx = EngineContext(FenceIndex(load_fences(fences_geojson())), Registry.from_mapping(reg))
    tr = Trace("M1", "2025-06-01 23:35").stay(60).drive(*S1, kmh=30)
    tr.stay(30 * 60, every=60, **FULL).drive(*T1, kmh=40, **FULL).stay(360, **FULL)
    tr.stay(60, loaded="empty")
    out = run(tr.pings, ctx)
    assert out.types() == [] and [t["permit"] for t in out.trips.values()] == ["P-1"]


def test_a_load_seen_only_in_a_blind_area_batch_is_judged_at_its_start():
    """Dark from just before S1 until past it, the batch ending inside the site: the
    departure is never confirmed, so the hours are judged at the dwell's start."""
    tr = Trace("M1", "2025-06-02 06:00").stay(60).drive(S1[0], S1[1] - 0.003, kmh=30)
    n_live = len(tr.pings)
    tr.drive(*S1, kmh=20).stay(600, every=60, **FULL)  # dwell from ~06:06: after the hours
    n_dark = len(tr.pings)
    tr.drive(*T1, kmh=40, **FULL).stay(360, **FULL).stay(60, loaded="empty")
    batch = [dataclasses.replace(p, backfill=True) for p in tr.pings[n_live:n_dark]]
    resumed = [p for p in tr.pings[n_dark:] if p.lng > S1[1] + 0.002]  # outside the site
    out = run(tr.pings[:n_live] + resumed[:3] + batch + resumed[3:])
    (alert,) = out.of("unpermitted_load")
    assert alert["late"] and "hours" in alert["evidence"]["reason"]
