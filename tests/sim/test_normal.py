"""Normal operation the bureau does not want flagged (sim.normal, issue 11): each pattern is
played as DOMAIN.md and the issue describe it, and recorded as an episode with no truth."""

from __future__ import annotations

import pytest
import shapely

from sim import simulate, writer
from sim.normal import PATTERNS
from sim.track import DARK, MOVING
from tests.sim.conftest import START_MS

MIN = 60_000


@pytest.fixture(scope="module")
def night():
    return simulate(200, 10, 11, START_MS)


def _episodes(sim, pattern):
    plans = {p.vehicle.id: p for p in sim.plans}
    out = [(e, plans[e.vehicle]) for e in sim.episodes if e.pattern == pattern]
    assert out, f"no {pattern} episode in the night"
    return out


def _legs(plan, t0, t1):
    return [leg for leg in plan.legs if t0 <= leg.t0 and leg.t1 <= t1]


def _edge(place, xy) -> float:
    """Metres from the fence's edge: positive outside, negative inside."""
    pt = shapely.Point(xy)
    d = place.shape.exterior.distance(pt)
    return -d if place.shape.contains(pt) else d


def _at_terminal(sim, e, plan, margin=30.0):
    """The episode's unload: its first run of stays at (or within ``margin`` of) the terminal."""
    term = sim.world.places[e.place]
    legs = []
    for leg in _legs(plan, e.t0, e.t1):
        if leg.speed == 0 and _edge(term, leg.path[0]) <= margin:
            legs.append(leg)
        elif legs:
            break
    return term, legs


def check_gate_drift(sim, e, plan):
    term, legs = _at_terminal(sim, e, plan)
    inside = [leg for leg in legs if _edge(term, leg.path[0]) < 0]
    drift = [leg for leg in legs if _edge(term, leg.path[0]) > 0]
    assert all(-16 <= _edge(term, leg.path[0]) <= -11 for leg in inside)  # ~15 m inside
    assert drift and all(12 <= _edge(term, leg.path[0]) <= 25 for leg in drift)
    assert any(leg.lift for leg in drift)  # the tipper up on a fix that drifted out
    assert any(leg.t1 - leg.t0 >= 2 * plan.vehicle.work_s * 1000 for leg in drift)  # two in a row
    assert 9 * MIN <= legs[-1].t1 - legs[0].t0 <= 11 * MIN
    assert legs[-1].loaded == "empty" and any(leg.lift for leg in legs)


def check_gate_queue(sim, e, plan):
    term = sim.world.places[e.place]
    legs = _legs(plan, e.t0, e.t1)
    first_in = next(k for k, leg in enumerate(legs) if _edge(term, leg.path[-1]) < 0)
    queue = []
    for leg in reversed(legs[:first_in]):
        if leg.speed >= 5:
            if queue:
                break
            continue
        queue.append(leg)
    span = queue[0].t1 - queue[-1].t0
    assert 5.7 * MIN - 1000 <= span <= 8 * MIN
    assert all(leg.loaded in (None, "full") for leg in queue)
    assert all(0 < _edge(term, xy) <= 200 for leg in queue for xy in leg.path)
    assert any(leg.mode == MOVING for leg in queue)  # creeping, then stopped again


def check_tip_back(sim, e, plan):
    site = sim.world.places[sim.world.permit_of(plan.vehicle.id).site]
    lifted = [leg for leg in _legs(plan, e.t0, e.t1) if leg.lift and leg.speed == 0]
    own = [leg for leg in lifted if site.shape.contains(shapely.Point(leg.path[0]))]
    assert own and 60_000 <= own[0].t1 - own[0].t0 <= 90_000 and own[0].loaded == "full"


def check_short_unload(sim, e, plan):
    term, legs = _at_terminal(sim, e, plan, margin=0.0)
    assert legs[-1].t1 - legs[0].t0 == 160_000  # 2 min 40 s
    assert [leg.loaded for leg in legs] == ["full", "half", "empty"]
    assert [leg.lift for leg in legs] == [False, True, False]


def check_stuck_half(sim, e, plan):
    term, legs = _at_terminal(sim, e, plan, margin=0.0)
    lifted = [leg for leg in legs if leg.lift]
    assert sum(leg.t1 - leg.t0 for leg in lifted) == 4 * MIN
    after = [leg for leg in plan.legs if leg.t0 >= legs[0].t0]
    until_next_load = next((k for k, leg in enumerate(after) if leg.loaded == "empty"), None)
    loaded = {leg.loaded for leg in after[:until_next_load]}
    assert loaded == {"half"}  # stuck during the unload and after it, until the next load


def check_no_load_field(sim, e, plan):
    v = plan.vehicle
    assert not v.sensors and not v.loaded_field
    recs = [r for vid, r in sim.records if vid == v.id][:50]
    assert recs and all("loaded" not in writer.ping(v, v.id, r) for r in recs)


def check_kitchen_jam(sim, e, plan):
    legs = _legs(plan, e.t0 + MIN, e.t1 - 5 * MIN)
    assert all(leg.mode == MOVING and 1.0 <= leg.speed <= 8.0 for leg in legs)
    assert 3.5 * MIN <= legs[-1].t1 - legs[0].t0 <= 4.5 * MIN
    moved = shapely.LineString([legs[0].path[0], legs[-1].path[-1]]).length
    assert moved > 100  # along the road, not a stop in one place


def check_basement_dock(sim, e, plan):
    producer = sim.world.places[e.place]
    assert producer.id in sim.world.contract_of(plan.vehicle.id).producers
    legs = _legs(plan, e.t0, e.t1)
    dark = [leg for leg in legs if leg.link == DARK]
    assert 13.5 * MIN <= dark[-1].t1 - dark[0].t0 <= 14.5 * MIN
    stays = [leg for leg in legs if leg.speed == 0 and leg.t1 <= dark[-1].t1 + 3 * MIN]
    assert {tuple(leg.path[0]) for leg in stays} == {tuple(dark[0].path[0])}  # the same spot
    assert stays[0].t0 < dark[0].t0 and stays[-1].t1 > dark[-1].t1  # seen before and after
    assert producer.shape.contains(shapely.Point(dark[0].path[0]))


CHECKS = {name[6:]: fn for name, fn in globals().items() if name.startswith("check_")}


def test_every_pattern_has_a_check():
    assert set(CHECKS) == set(PATTERNS)


@pytest.mark.parametrize("pattern", PATTERNS)
def test_each_pattern_is_played_as_the_bureau_describes_it(night, pattern):
    for e, plan in _episodes(night, pattern):
        assert plan.trick is None  # normal vehicles only: no truth to confuse
        CHECKS[pattern](night, e, plan)


def test_no_truth_is_recorded_for_a_normal_vehicle(night):
    normal = {p.vehicle.id for p in night.plans if p.trick is None}
    assert not [t for t in night.truths if t.vehicle in normal]


def test_the_patterns_can_be_switched_off(night):
    plain = simulate(30, 4, 11, START_MS, normal_ops=False)
    assert not [e for e in plain.episodes if e.pattern in PATTERNS]
    assert all(v.loaded_field for v in plain.world.vehicles)


def test_vehicle_hours_of_normal_operation_leave_out_the_truth_windows(night):
    hours = len(night.world.vehicles) * 10
    windows = sum(t.window[1] - t.window[0] for t in night.truths) / 3_600_000
    assert hours - windows - 1 <= night.normal_hours <= hours - windows / 2
    doc = writer.normal(night)
    assert doc["vehicle_hours"] == round(night.normal_hours, 3)
    assert len(doc["episodes"]) == len(night.episodes)
