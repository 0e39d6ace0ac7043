"""Metric buffers and distances, checked against GeographicLib's exact geodesics."""

import itertools
import math

import numpy as np
import pytest
import shapely
from geographiclib.geodesic import Geodesic
from geographiclib.polygonarea import PolygonArea
from hypothesis import given, settings
from hypothesis import strategies as st

from geofence.metric import LocalProjection, buffer_m, circles_m, distance_m, distance_to_m

GEOD = Geodesic.WGS84


def geodesic_m(lat1, lng1, lat2, lng2):
    return GEOD.Inverse(lat1, lng1, lat2, lng2)["s12"]


def distance_to_geodesic_segment(lat, lng, a, b):
    """Slow oracle: golden-section search along the geodesic a-b for the nearest point."""
    line = GEOD.InverseLine(a[1], a[0], b[1], b[0])

    def dist(s):
        pos = line.Position(s)
        return geodesic_m(lat, lng, pos["lat2"], pos["lon2"])

    lo, hi = 0.0, line.s13
    ratio = (math.sqrt(5) - 1) / 2
    while hi - lo > 1e-3:
        m1, m2 = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
        if dist(m1) < dist(m2):
            hi = m2
        else:
            lo = m1
    return min(dist(lo), dist(0.0), dist(line.s13))


def geodesic_area(polygon):
    area = PolygonArea(GEOD)
    for lng, lat in polygon.exterior.coords[:-1]:
        area.AddPoint(lat, lng)
    return abs(area.Compute(False, True)[2])


def test_corridor_vertices_are_the_buffer_distance_from_the_centre_line():
    # About 5 km along roads east of Wuxi's old town, with two bends.
    coords = [(120.300, 31.570), (120.318, 31.574), (120.330, 31.590), (120.336, 31.598)]
    segments = list(itertools.pairwise(coords))
    centre = shapely.LineString(coords)
    length = sum(geodesic_m(a[1], a[0], b[1], b[0]) for a, b in segments)
    assert 4500 < length < 5500
    corridor = buffer_m(centre, 50.0)
    assert corridor.geom_type == "Polygon" and corridor.is_valid
    vertices = corridor.exterior.coords[:-1]
    assert len(vertices) > 60
    for lng, lat in vertices:
        d = min(distance_to_geodesic_segment(lat, lng, a, b) for a, b in segments)
        assert d == pytest.approx(50.0, rel=0.005)


@pytest.mark.parametrize("radius", [25.0, 300.0, 2000.0])
def test_circle_area_is_pi_r_squared(radius):
    circle = buffer_m(shapely.Point(120.31, 31.49), radius)
    assert circle.geom_type == "Polygon"
    assert geodesic_area(circle) == pytest.approx(math.pi * radius**2, rel=0.01)
    for lng, lat in circle.exterior.coords:
        assert geodesic_m(31.49, 120.31, lat, lng) == pytest.approx(radius, rel=1e-4)


def test_buffer_is_round_not_an_ellipse_of_degrees():
    # Buffering in degrees would make the east-west extent in metres 1/cos(lat) = 1.17x longer.
    circle = buffer_m(shapely.Point(120.31, 31.49), 1000.0)
    min_x, min_y, max_x, max_y = circle.bounds
    east_west = geodesic_m(31.49, min_x, 31.49, max_x)
    north_south = geodesic_m(min_y, 120.31, max_y, 120.31)
    assert east_west == pytest.approx(north_south, rel=0.002)


def test_buffering_a_polygon_with_a_hole_grows_out_and_shrinks_the_hole():
    shell = [(120.30, 31.50), (120.32, 31.50), (120.32, 31.52), (120.30, 31.52), (120.30, 31.50)]
    hole = [(120.305, 31.505), (120.315, 31.505), (120.315, 31.515), (120.305, 31.515)]
    polygon = shapely.Polygon(shell, [hole + [hole[0]]])
    grown = buffer_m(polygon, 100.0)
    assert grown.area > polygon.area
    assert len(grown.interiors) == 1
    assert shapely.Polygon(grown.interiors[0]).area < shapely.Polygon(hole).area
    # a point 50 m inside the hole's edge is now covered, the hole's centre is not
    inside_edge = shapely.Point(120.305 + 50 / 95000, 31.51)
    assert grown.covers(inside_edge) and not polygon.covers(inside_edge)
    assert not grown.covers(shapely.Point(120.31, 31.51))


def test_buffer_refuses_bad_distance_and_empty_results():
    with pytest.raises(ValueError, match="finite"):
        buffer_m(shapely.Point(120.3, 31.5), float("nan"))
    with pytest.raises(ValueError, match="leaves nothing"):
        buffer_m(shapely.Point(120.3, 31.5), -5.0)
    with pytest.raises(ValueError, match="empty"):
        buffer_m(shapely.LineString(), 5.0)


def test_buffer_of_a_multilinestring_far_apart_is_a_multipolygon():
    lines = shapely.MultiLineString(
        [[(120.30, 31.50), (120.31, 31.50)], [(120.40, 31.60), (120.41, 31.60)]]
    )
    out = buffer_m(lines, 40.0)
    assert out.geom_type == "MultiPolygon" and len(out.geoms) == 2


def test_local_projection_round_trip_and_centre():
    proj = LocalProjection(120.31, 31.49)
    assert proj.forward(120.31, 31.49) == pytest.approx((0.0, 0.0), abs=1e-6)
    rng = np.random.default_rng(3)
    lng = rng.uniform(119.8, 120.8, 500)
    lat = rng.uniform(31.0, 32.0, 500)
    back_lng, back_lat = proj.inverse(*proj.forward(lng, lat))
    np.testing.assert_allclose(back_lng, lng, atol=1e-10)
    np.testing.assert_allclose(back_lat, lat, atol=1e-10)


@settings(max_examples=100, deadline=None)
@given(
    st.floats(31.0, 32.0),
    st.floats(119.8, 120.8),
    st.floats(0.0, 360.0),
    st.floats(0.5, 50_000.0),
)
def test_distance_m_matches_the_geodesic(lat, lng, azimuth, metres):
    far = GEOD.Direct(lat, lng, azimuth, metres)
    assert distance_m(lat, lng, far["lat2"], far["lon2"]) == pytest.approx(metres, rel=1e-5)


def test_distance_m_is_vectorised_and_zero_for_the_same_point():
    lats = np.array([31.49, 31.50, 31.60])
    lngs = np.array([120.31, 120.31, 120.50])
    d = distance_m(lats[:1], lngs[:1], lats, lngs)
    assert d.shape == (3,)
    assert d[0] == 0.0
    for i in (1, 2):
        assert d[i] == pytest.approx(geodesic_m(31.49, 120.31, lats[i], lngs[i]), rel=1e-5)
    assert isinstance(distance_m(31.49, 120.31, 31.5, 120.31), float)


def test_distance_to_m_of_points_and_a_polygon():
    square = shapely.box(120.30, 31.50, 120.31, 31.51)
    assert distance_to_m(square, 31.505, 120.305) == 0.0
    north = distance_to_m(square, 31.51 + 0.001, 120.305)
    assert north == pytest.approx(geodesic_m(31.51, 120.305, 31.511, 120.305), rel=1e-4)
    many = distance_to_m(square, np.array([31.505, 31.52]), np.array([120.305, 120.305]))
    assert many[0] == 0.0 and many[1] > 1000


def test_circles_m_draws_each_circle_around_its_own_centre():
    lngs = np.array([120.31, 120.45, 119.9])
    lats = np.array([31.49, 31.62, 31.35])
    radii = np.array([30.0, 120.0, 500.0])
    circles = circles_m(lngs, lats, radii)
    assert len(circles) == 3
    for circle, lng, lat, r in zip(circles, lngs, lats, radii, strict=True):
        assert circle.is_valid and circle.exterior.is_ccw
        for v_lng, v_lat in circle.exterior.coords:
            assert geodesic_m(lat, lng, v_lat, v_lng) == pytest.approx(r, rel=1e-5)
        assert circle.equals_exact(buffer_m(shapely.Point(lng, lat), r), 1e-12)
    with pytest.raises(ValueError, match="radii"):
        circles_m([120.3], [31.5], [0.0])
