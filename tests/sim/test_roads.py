"""Roads keep clear of the restricted zones they must avoid."""

from __future__ import annotations

import random

import numpy as np
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.places import ZONE_MARGIN_M, zones
from sim.roads import around, road

ZONES = zones(random.Random(0))
coord = st.floats(-20_000, 20_000, allow_nan=False)


def _outside(xy) -> bool:
    return all(np.hypot(*(xy - z.xy)) > z.radius + ZONE_MARGIN_M + 300 for z in ZONES)


@settings(max_examples=60, deadline=None)
@given(coord, coord, coord, coord, st.integers(0, 10_000))
def test_a_road_joins_its_ends_and_never_comes_near_a_zone(ax, ay, bx, by, seed):
    a, b = np.array([ax, ay]), np.array([bx, by])
    if not (_outside(a) and _outside(b)):
        return
    path = road(a, b, random.Random(seed), ZONES)
    assert np.allclose(path[0], a) and np.allclose(path[-1], b)
    line = shapely.LineString(path)
    for z in ZONES:
        assert line.distance(z.shape) > 0.9 * ZONE_MARGIN_M


def test_around_replaces_a_crossing_by_an_arc_outside_the_disc():
    path = np.array([[-5000.0, 0.0], [5000.0, 0.0]])
    out = around(path, np.array([0.0, 0.0]), 2000.0)
    assert np.allclose(out[0], path[0]) and np.allclose(out[-1], path[-1])
    assert shapely.LineString(out).distance(shapely.Point(0, 0)) >= 1990.0
    untouched = np.array([[-5000.0, 3000.0], [5000.0, 3000.0]])
    assert np.array_equal(around(untouched, np.array([0.0, 0.0]), 2000.0), untouched)
