"""Normal behaviour stays clearly inside every threshold (so only injected tricks alert), apart
from the normal-operation patterns (sim.normal, issue 11), which are recorded as episodes and
must not alert either; those are tested in test_normal.py."""

from __future__ import annotations

import shapely

from sim.scenario import local_minute
from sim.track import MOVING, PARKED

LOADED = ("half", "full")


def _normal(sim):
    return [p for p in sim.plans if p.trick is None]


def _in_episode(plan, t0: int, t1: int) -> bool:
    spans = [(e.t0, e.t1) for e in plan.episodes if e.pattern != "no_load_field"]
    return any(a < t1 and t0 < b for a, b in spans)


def _plain(plan):
    """The plan's legs outside its normal-operation episodes."""
    return [leg for leg in plan.legs if not _in_episode(plan, leg.t0, leg.t1)]


def _stays(plan):
    return [leg for leg in _plain(plan) if leg.speed == 0]


def test_some_vehicles_are_left_alone(sim60):
    assert 10 <= len(_normal(sim60)) < len(sim60.plans)


def test_normal_vehicles_never_stand_still_outside_places_for_long(sim60):
    places = shapely.union_all([p.shape for p in sim60.world.places.values()])
    for plan in _normal(sim60):
        for leg in _stays(plan):
            x, y = leg.path[0]
            if not shapely.contains_xy(places, x, y):
                assert leg.t1 - leg.t0 <= 90_000, (plan.vehicle.id, leg)


def test_normal_dwells_at_sites_and_terminals_last_well_over_three_minutes(sim60):
    w = sim60.world
    kinds = {"site", "terminal", "transfer", "producer", "plant"}
    for plan in _normal(sim60):
        spans = []  # consecutive stays at one place form one dwell
        for leg in plan.legs:
            at = [p.id for p in w.places.values() if p.kind in kinds and p.shape.contains(
                shapely.Point(leg.path[0]))] if leg.speed == 0 else []  # fmt: skip
            if at and leg.mode != PARKED:
                if spans and spans[-1][0] == at[0] and spans[-1][2] == leg.t0:
                    spans[-1][2] = leg.t1
                else:
                    spans.append([at[0], leg.t0, leg.t1])
        spans = [s for s in spans if not _in_episode(plan, s[1], s[2])]
        long = [s for s in spans if s[2] - s[1] >= 3 * 60_000]
        assert all(s[2] - s[1] >= 4 * 60_000 for s in long), plan.vehicle.id


def test_normal_speeds_are_ten_below_every_limit(sim60):
    for plan in _normal(sim60):
        moving = [leg.speed for leg in plan.legs if leg.mode == MOVING]
        assert max(moving) <= 40.0


def test_loaded_muck_trucks_stay_on_their_corridor(sim60):
    w = sim60.world
    unload = shapely.union_all(
        [p.shape for p in w.places.values() if p.kind in ("site", "terminal", "transfer")]
    )
    for plan in _normal(sim60):
        if plan.vehicle.kind != "muck" or not plan.vehicle.sensors:
            continue
        permit = w.permit_of(plan.vehicle.id)
        area = shapely.union_all(
            [shapely.LineString(w.corridors[c].path).buffer(w.corridors[c].buffer_m)
             for c in permit.corridors]
        )  # fmt: skip
        for leg in _plain(plan):
            if leg.loaded in LOADED and leg.speed > 0:
                pts = leg.path
                inside = shapely.contains_xy(area, pts[:, 0], pts[:, 1])
                excused = shapely.contains_xy(unload, pts[:, 0], pts[:, 1])
                assert (inside | excused).all(), plan.vehicle.id


def test_normal_vehicles_keep_out_of_restricted_zones(sim60):
    w = sim60.world
    for plan in _normal(sim60):
        for leg in plan.legs:
            line = shapely.LineString(leg.path) if len(leg.path) > 1 else shapely.Point(leg.path[0])
            for zone in w.zones_for(plan.vehicle.kind):
                assert line.distance(zone.shape) > 500, (plan.vehicle.id, zone.id)


def test_loads_start_and_leave_inside_permit_hours(sim60):
    w = sim60.world
    for plan in _normal(sim60):
        if plan.vehicle.kind != "muck":
            continue
        hours = w.permit_of(plan.vehicle.id).hours
        for leg in plan.legs:
            if leg.speed == 0 and leg.loaded == "empty" and leg.cover and leg.job:  # loading
                minute = local_minute(leg.t0)
                assert any(_within(h, minute) for h in hours), (plan.vehicle.id, minute)


def _within(text: str, m: int) -> bool:
    s = int(text[:2]) * 60 + int(text[3:5])
    e = int(text[6:8]) * 60 + int(text[9:11])
    return s <= m < e if s <= e else (m >= s or m < e)
