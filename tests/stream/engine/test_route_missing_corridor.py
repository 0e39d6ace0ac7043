"""A permit corridor missing from the context is not judged (issue 11 review).

The Kafka worker applies reference edits one entry at a time, so a permit can name a corridor
fence that is not (or no longer) there. Judged against it, every trip under the permit was a
``route_deviation``. The registry check refuses such files at the edges; the engine's own
defence: only the permit's corridors present in the fences are judged, none present: none raised.
"""

from __future__ import annotations

import pytest

from geofence import FenceIndex, load_fences
from stream.engine import EngineContext, Thresholds, finish, process
from stream.registry import Registry
from tests.stream.engine.test_alerts import FULL, loaded_at_site
from tests.stream.engine.world import (
    LAT,
    T1,
    Outcome,
    fences_geojson,
    registry_mapping,
    run,
)


def muck_trip(north: float, start: str = "2025-06-01 21:00") -> list:
    """Loaded at S1, to T1 along the road, ``north`` degrees off it between 120.295 and .305."""
    tr = loaded_at_site(start).drive(LAT, 120.29, **FULL).drive(LAT + north, 120.295, **FULL)
    tr.drive(LAT + north, 120.305, **FULL).drive(LAT, 120.31, **FULL).drive(*T1, **FULL)
    return tr.stay(400, **FULL).stay(60, loaded="empty").pings


def ctx_with(fences: set[str], corridors: list[str]) -> EngineContext:
    """The world with only these of its corridors, permit P-1 naming ``corridors``."""
    geo = fences_geojson()
    geo["features"] = [
        f for f in geo["features"] if f["properties"]["kind"] != "corridor" or f["id"] in fences
    ]
    reg = registry_mapping()
    reg["permits"][0]["corridors"] = corridors
    return EngineContext(FenceIndex(load_fences(geo)), Registry.from_mapping(reg), Thresholds())


# (case, corridors in the fences, corridors the permit names, how far off, deviations: corridor)
CASES = [
    ("C1 present, on the road", {"C1", "L1"}, ["C1"], 0.0, []),
    ("C1 present, 400 m off", {"C1", "L1"}, ["C1"], 0.0036, ["C1"]),
    ("C1 absent, on the road", {"L1"}, ["C1"], 0.0, []),
    ("C1 absent, 400 m off", {"L1"}, ["C1"], 0.0036, []),
    # Only the present corridors are judged: the road is far from L1 (1 km south, 6 km east).
    ("C1 absent, L1 present, on the road", {"L1"}, ["C1", "L1"], 0.0, ["L1"]),
    ("C1 and L1 present, 400 m off", {"C1", "L1"}, ["C1", "L1"], 0.0036, ["C1"]),
]


@pytest.mark.parametrize(
    ("fences", "corridors", "north", "want"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_only_corridors_present_are_judged(fences, corridors, north, want):
    outcome = run(muck_trip(north), ctx_with(fences, corridors))
    deviations = outcome.of("route_deviation")
    assert [a["evidence"]["corridor"] for a in deviations] == want
    for alert in deviations:
        assert alert["evidence"]["corridors"] == [c for c in corridors if c in fences]
        assert alert["fence"] == alert["evidence"]["corridor"]


def test_a_corridor_that_comes_back_is_judged_again():
    """A worker's reference edits: C1 missing for the first trip, back for the second. No ruling
    made while it was missing may outlive the edit (the empty fence set, which covers the road
    off the corridor, memoised "nothing to deviate from" for every later context)."""
    ctx = ctx_with({"L1"}, ["C1"])
    states, events = process(muck_trip(0.0036), ctx)
    ctx.index = FenceIndex(load_fences(fences_geojson()))
    ctx.refresh()
    later = muck_trip(0.0036, start="2025-06-02 01:00")
    states, more = process(later, ctx, states)
    states, last = finish(ctx, states)
    deviations = Outcome(events + more + last).of("route_deviation")
    assert [a["ts"][:13] for a in deviations] == ["2025-06-02T01"]
