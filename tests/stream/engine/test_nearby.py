"""Metric look-ups around a point (stream.engine.nearby, issue 11)."""

from __future__ import annotations

import math

from geofence import load_fences
from geofence.metric import distance_to_m
from stream.engine.nearby import Nearby, Plane

LAT, LNG = 31.50, 120.30
M_LNG = 111_195.0 * math.cos(math.radians(LAT))


def _feature(fid: str, kind: str, ring: list) -> dict:
    return {
        "type": "Feature",
        "id": fid,
        "geometry": {"type": "Polygon", "coordinates": [ring]},
        "properties": {"kind": kind, "name": fid},
    }


def _box(lat: float, lng: float, half_m: float) -> list:
    dlat, dlng = half_m / 111_195.0, half_m / M_LNG
    return [
        [lng - dlng, lat - dlat],
        [lng + dlng, lat - dlat],
        [lng + dlng, lat + dlat],
        [lng - dlng, lat + dlat],
        [lng - dlng, lat - dlat],
    ]


def world() -> Nearby:
    """A long diagonal site whose bounding box holds the point (the strip itself passes ~1.1 km
    from it), a small terminal 250 m east, a producer 6 km north, and a corridor-free world."""
    d = 0.02
    strip = [
        [LNG - d, LAT - d + 0.0005],
        [LNG - d + 0.0005, LAT - d],
        [LNG + d, LAT + d - 0.0005],
        [LNG + d - 0.0005, LAT + d],
        [LNG - d, LAT - d + 0.0005],
    ]
    strip = [[x - 0.008, y + 0.008] for x, y in strip]  # shifted off the point, box still over it
    fences = load_fences(
        {
            "type": "FeatureCollection",
            "features": [
                _feature("A-site", "site", strip),
                _feature("T9", "terminal", _box(LAT, LNG + 300 / M_LNG, 50)),
                _feature("R9", "producer", _box(LAT + 0.054, LNG, 20)),
            ],
        }
    )
    return Nearby({f.id: f for f in fences}, LAT)


def test_the_nearest_place_is_by_distance_not_by_bounding_box():
    near = world()
    got = near.nearest_place(LAT, LNG)
    assert got["fence"] == "T9" and got["kind"] == "terminal"
    assert abs(got["distance_m"] - 250.0) < 1.0
    assert near.distance("A-site", LAT, LNG) > got["distance_m"]


def test_distance_agrees_with_geofence_metric():
    near = world()
    for fid in ("A-site", "T9", "R9"):
        want = distance_to_m(near.fences[fid].area, LAT + 0.001, LNG - 0.002)
        assert abs(near.distance(fid, LAT + 0.001, LNG - 0.002) - want) < 0.01


def test_within_grows_the_place_by_metres():
    near = world()
    edge = LNG + 250 / M_LNG  # T9's western edge
    assert near.within("T9", 30, LAT, edge - 25 / M_LNG)
    assert not near.within("T9", 30, LAT, edge - 35 / M_LNG)
    assert near.unload_within(LAT, edge - 190 / M_LNG, 200) == ["T9"]
    assert near.unload_within(LAT, edge - 210 / M_LNG, 200) == []


def test_nothing_known_within_5_km():
    assert world().nearest_place(LAT + 0.1, LNG + 0.1) is None


def test_the_fast_plane_matches_the_projection_within_a_centimetre():
    """Plane puts single points on the fence's transverse Mercator plane by a fitted cubic:
    checked against geofence.metric's projection out to ~30 km."""
    from geofence.metric import LocalProjection

    near = world()
    for fid in ("A-site", "T9"):
        area = near.fences[fid].area
        projection = LocalProjection.centred_on(area)
        plane = Plane(area)
        for dlat, dlng in [(0, 0), (0.01, -0.02), (-0.2, 0.25), (0.28, 0.28), (-0.3, -0.1)]:
            lat, lng = projection.lat0 + dlat, projection.lng0 + dlng
            want = projection.forward(lng, lat)
            got = plane.xy(lat, lng)
            assert abs(got[0] - float(want[0])) < 0.01 and abs(got[1] - float(want[1])) < 0.01


def test_a_place_just_beyond_5_km_is_not_named():
    """Its box is within the search reach (5 km and a 2 % margin), the place itself is not."""
    fences = load_fences(
        {
            "type": "FeatureCollection",
            "features": [_feature("R8", "producer", _box(LAT, LNG, 20))],
        }
    )
    near = Nearby({f.id: f for f in fences}, LAT)
    south_edge = LAT - 20 / 111_195.0
    for metres, named in [(4950, True), (5050, False)]:
        lat = south_edge - metres / 110_857.0  # metres per degree of latitude here
        got = near.nearest_place(lat, LNG)
        assert (got is not None) == named, (metres, got)


def test_a_bent_line_is_measured_as_shapely_measures_it():
    """A corridor's centre line (measured segment by segment in plain floats) against shapely
    on the same plane, points all around its bends, inside its width included."""
    import shapely

    from geofence.metric import LocalProjection

    line = shapely.LineString([(LNG, LAT), (LNG + 0.02, LAT + 0.005), (LNG + 0.03, LAT - 0.01)])
    plane = Plane(line, 60.0)
    projection = LocalProjection.centred_on(line)
    flat = projection.project(line)
    for dlat, dlng in [(0.001, 0.0), (0.004, 0.021), (-0.02, 0.031), (0.0, -0.01), (0.0003, 0.01)]:
        x, y = projection.forward(LNG + dlng, LAT + dlat)
        want = max(0.0, shapely.distance(flat, shapely.Point(float(x), float(y))) - 60.0)
        assert abs(plane.distance(LAT + dlat, LNG + dlng) - want) < 0.01
