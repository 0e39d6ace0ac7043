"""The exact oracle itself, on points whose answer is known by construction (issue 15)."""

from __future__ import annotations

import math

import pytest
from shapely.geometry import MultiPolygon, Point, Polygon, box

from tests.geofence.exact import ExactArea, exact

UP, DOWN = math.inf, -math.inf
G = 2.0**-12  # ~27 m; vertices on multiples of it make points on diagonal edges exact
X0, Y0 = 120.3125, 31.5

YARD = box(120.30, 31.49, 120.31, 31.50)
HOLED = Polygon(YARD.exterior.coords, [box(120.302, 31.492, 120.304, 31.494).exterior.coords])
DIAMOND = Polygon([(X0 - G, Y0), (X0, Y0 - G), (X0 + G, Y0), (X0, Y0 + G)])
SLOPE = Polygon([(X0, Y0), (X0 + 6 * G, Y0 + 2 * G), (X0, Y0 + 4 * G)])
TWO_PLOTS = MultiPolygon(
    [
        Polygon([(X0, Y0), (X0 - G, Y0 + G), (X0 - 2 * G, Y0)]),
        Polygon([(X0, Y0), (X0 + G, Y0 - G), (X0 + 2 * G, Y0)]),
    ]
)

CASES = [
    ("inside the yard", HOLED, 120.301, 31.491, True),
    ("inside the hole", HOLED, 120.303, 31.493, False),
    ("on the hole's edge", HOLED, 120.302, 31.493, True),
    ("a hole corner", HOLED, 120.304, 31.494, True),
    ("on the yard's west edge", YARD, 120.30, 31.495, True),
    ("the yard's north-east corner", YARD, 120.31, 31.50, True),
    ("one ulp east of the east edge", YARD, math.nextafter(120.31, UP), 31.495, False),
    ("one ulp west of the east edge", YARD, math.nextafter(120.31, DOWN), 31.495, True),
    ("one ulp north of the north edge", YARD, 120.305, math.nextafter(31.50, UP), False),
    ("centre: its ray runs through the east vertex", DIAMOND, X0, Y0, True),
    ("west of the west vertex, same latitude", DIAMOND, math.nextafter(X0 - G, DOWN), Y0, False),
    ("the west vertex", DIAMOND, X0 - G, Y0, True),
    ("level with the top vertex, 1e-9° west", DIAMOND, X0 - 1e-9, Y0 + G, False),
    ("exactly mid-way along a diagonal edge", SLOPE, X0 + 3 * G, Y0 + G, True),
    ("one ulp below that diagonal edge", SLOPE, X0 + 3 * G, math.nextafter(Y0 + G, DOWN), False),
    ("one ulp above that diagonal edge", SLOPE, X0 + 3 * G, math.nextafter(Y0 + G, UP), True),
    ("where the two plots touch", TWO_PLOTS, X0, Y0, True),
    ("inside the west plot", TWO_PLOTS, X0 - G, Y0 + G / 2, True),
    ("inside the east plot", TWO_PLOTS, X0 + G, Y0 - G / 2, True),
    ("between the plots, north of the touch", TWO_PLOTS, X0, Y0 + 1e-8, False),
]


@pytest.mark.parametrize(("area", "lng", "lat", "covered"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])  # fmt: skip
def test_exact_covers(area, lng, lat, covered):
    assert ExactArea(area).covers(lng, lat) is covered
    assert area.covers(Point(lng, lat)) is covered  # GEOS agrees: the table itself is right


def test_every_double_is_a_whole_number_of_units():
    for v in (0.0, 5e-324, 31.49, -120.31, math.nextafter(31.49, UP), 1e300):
        assert exact(v) / 2**1074 == v
    assert exact(math.nextafter(31.49, UP)) - exact(31.49) == 2 ** (1074 - 48)
