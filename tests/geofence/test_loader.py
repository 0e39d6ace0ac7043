"""Fence file loading: validation of every problem, datum normalisation, buffers, demo file."""

import copy
import json
import math
from collections import Counter
from importlib.resources import files

import pytest
import shapely
from geographiclib.geodesic import Geodesic

from geofence import FenceError, FenceIndex, load_fences
from geofence.datum import transform
from geofence.loader import check_fences
from geofence.model import Datum, FenceKind, TimeWindow

GEOD = Geodesic.WGS84
DEMO = files("geofence") / "data" / "wuxi_demo.geojson"
SQUARE = [[120.30, 31.50], [120.31, 31.50], [120.31, 31.51], [120.30, 31.51], [120.30, 31.50]]


def feature(fid="f1", kind="site", geometry=None, **props):
    return {
        "type": "Feature",
        "id": fid,
        "properties": {"kind": kind, "name": "名称", "district": "梁溪", **props},
        "geometry": geometry or {"type": "Polygon", "coordinates": [copy.deepcopy(SQUARE)]},
    }


def line(*coords):
    return {"type": "LineString", "coordinates": [list(c) for c in coords]}


def point(lng, lat):
    return {"type": "Point", "coordinates": [lng, lat]}


def collection(*features):
    return {"type": "FeatureCollection", "features": list(features)}


def moved(lat, lng, azimuth, metres):
    """(lat, lng) of the point ``metres`` from (lat, lng) along ``azimuth`` (exact geodesic)."""
    out = GEOD.Direct(lat, lng, azimuth, metres)
    return out["lat2"], out["lon2"]


def problems_of(*features):
    with pytest.raises(FenceError) as info:
        load_fences(collection(*features))
    return info.value.problems


def bowtie():
    ring = [[120.30, 31.50], [120.31, 31.51], [120.31, 31.50], [120.30, 31.51], [120.30, 31.50]]
    return {"type": "Polygon", "coordinates": [ring]}


def swapped():
    return {"type": "Polygon", "coordinates": [[[lat, lng] for lng, lat in SQUARE]]}


def ring_with(ring):
    return {"type": "Polygon", "coordinates": [ring]}


# (case, the broken feature, a fragment the problem message must contain)
PROBLEM_CASES = [
    ("missing id", {**feature(), "id": None}, "missing id"),
    ("bad id type", {**feature(), "id": [1]}, "id must be a string"),
    ("not a feature", {"type": "Polygon", "coordinates": [SQUARE]}, "not a GeoJSON Feature"),
    ("unknown kind", feature(kind="landfill"), "unknown kind 'landfill'"),
    ("missing kind", feature(kind=None), "missing properties.kind"),
    ("unknown datum", feature(datum="utm50"), "unknown datum 'utm50'"),
    ("properties not object", {**feature(), "properties": [1]}, "properties must be an object"),
    ("missing geometry", {**feature(), "geometry": None}, "missing geometry"),
    ("site as a line", feature(geometry=line((120.3, 31.5), (120.31, 31.5))), "not allowed"),
    ("corridor as polygon", feature(kind="corridor", buffer_m=50), "not allowed for kind corridor"),
    ("restricted as point", feature(kind="restricted", geometry=point(120.3, 31.5)), "not allowed"),
    (
        "corridor without buffer",
        feature(kind="corridor", geometry=line((120.3, 31.5), (120.31, 31.5))),
        "needs buffer_m",
    ),
    (
        "corridor zero buffer",
        feature(kind="corridor", geometry=line((120.3, 31.5), (120.31, 31.5)), buffer_m=0),
        "buffer_m must be positive",
    ),
    (
        "corridor zero length",
        feature(kind="corridor", geometry=line((120.3, 31.5), (120.3, 31.5)), buffer_m=9),
        "zero length",
    ),
    (
        "producer point no radius",
        feature(kind="producer", geometry=point(120.3, 31.5)),
        "needs radius_m",
    ),
    (
        "producer negative radius",
        feature(kind="producer", geometry=point(120.3, 31.5), radius_m=-3),
        "radius_m must be positive",
    ),
    ("buffer on a site", feature(buffer_m=30), "buffer_m applies only to corridors"),
    ("unclosed ring", feature(geometry=ring_with(SQUARE[:-1] + [[120.30, 31.505]])), "not closed"),
    (
        "short ring",
        feature(geometry=ring_with([SQUARE[0], SQUARE[1], SQUARE[0]])),
        "needs 4 or more",
    ),
    (
        "self-intersection",
        feature(geometry=bowtie()),
        "Self-intersection at lng 120.305000, lat 31.505000",
    ),
    (
        "non-finite",
        feature(geometry=ring_with([[120.3, math.nan], *SQUARE[1:-1], [120.3, math.nan]])),
        "non-finite",
    ),
    (
        "out of range",
        feature(geometry=point(200.0, 31.5), kind="producer", radius_m=5),
        "out of range",
    ),
    ("swapped lat/lng", feature(geometry=swapped()), "looks like [lat, lng]"),
    (
        "not a position",
        feature(geometry=ring_with([[120.3], *SQUARE[1:-1], [120.3]])),
        "not [lng, lat] numbers",
    ),
    ("hours not a list", feature(kind="restricted", hours="07:00-20:00"), "hours must be a list"),
    (
        "hours bad format",
        feature(kind="restricted", hours=["7:00-20:00"]),
        "bad hours entry '7:00-20:00'",
    ),
    ("hours bad clock", feature(kind="restricted", hours=["07:00-25:00"]), "bad hours entry"),
    ("hours empty window", feature(kind="restricted", hours=["07:00-07:00"]), "bad hours entry"),
    (
        "unknown vehicle kind",
        feature(kind="restricted", vehicle_kinds=["muck", "bus"]),
        "unknown vehicle_kinds ['bus']",
    ),
    ("zero speed limit", feature(speed_limit_kmh=0), "speed_limit_kmh must be positive"),
    ("negative speed limit", feature(speed_limit_kmh=-30), "speed_limit_kmh must be positive"),
    ("text speed limit", feature(speed_limit_kmh="60"), "speed_limit_kmh must be a number"),
    (
        "gcj02 abroad",
        feature(
            datum="gcj02", geometry=ring_with([[2.3, 48.8], [2.4, 48.8], [2.4, 48.9], [2.3, 48.8]])
        ),
        "only defined inside China",
    ),
]


@pytest.mark.parametrize("case, broken, fragment", PROBLEM_CASES, ids=[c[0] for c in PROBLEM_CASES])
def test_each_problem_kind_is_reported_and_named(case, broken, fragment):
    good = feature("good-1")
    problems = problems_of(good, broken)
    assert problems, case
    assert all(where != "good-1" for where, _ in problems)
    assert any(fragment in message for _, message in problems), problems
    # the broken feature is named by its id, or by its index when it has no usable id
    expected_where = broken.get("id") if isinstance(broken.get("id"), str) else "#1"
    assert {where for where, _ in problems} == {expected_where}


def test_duplicate_ids_are_reported_with_both_indexes():
    problems = problems_of(feature("a"), feature("b"), feature("a"))
    assert problems == [("a", "duplicate id (features #0 and #2)")]


def test_a_file_with_several_broken_features_reports_each_one(tmp_path):
    fc = collection(
        feature("ok-site"),
        feature("bad-kind", kind="dump"),
        feature("bad-ring", geometry=bowtie()),
        {**feature(), "id": None},
        feature("bad-hours", kind="restricted", hours=["8-9"], vehicle_kinds=["truck"]),
        feature(
            "ok-corridor", kind="corridor", geometry=line((120.3, 31.5), (120.4, 31.5)), buffer_m=40
        ),
    )
    path = tmp_path / "fences.geojson"
    path.write_text(json.dumps(fc), encoding="utf-8")
    with pytest.raises(FenceError) as info:
        load_fences(path)
    err = info.value
    assert isinstance(err, ValueError)
    where = Counter(w for w, _ in err.problems)
    assert set(where) == {"bad-kind", "bad-ring", "#3", "bad-hours"}
    assert where["bad-hours"] == 2
    lines = str(err).splitlines()
    assert lines[0] == f"{path}: 5 problems"
    assert len(lines) == 1 + len(err.problems)
    for (w, message), text in zip(err.problems, lines[1:], strict=True):
        assert text.strip() == f"{w}: {message}"
    # the valid features are still available for a summary
    fences, problems = check_fences(path)
    assert [f.id for f in fences] == ["ok-site", "ok-corridor"]
    assert problems == err.problems


def test_not_json_names_the_line(tmp_path):
    path = tmp_path / "broken.geojson"
    path.write_text('{"type": "FeatureCollection",\n "features": [\n  {"type": }\n]}')
    with pytest.raises(FenceError) as info:
        load_fences(path)
    ((where, message),) = info.value.problems
    assert where == "<file>" and "not valid JSON" in message and "line 3" in message


def test_not_utf8_and_not_geojson_and_empty(tmp_path):
    path = tmp_path / "latin1.geojson"
    path.write_bytes('{"name": "梁溪"}'.encode("gbk"))
    with pytest.raises(FenceError, match="not UTF-8"):
        load_fences(path)
    with pytest.raises(FenceError, match="expected a FeatureCollection, got type 'Polygon'"):
        load_fences({"type": "Polygon", "coordinates": [SQUARE]})
    with pytest.raises(FenceError, match="no features"):
        load_fences(collection())


def test_unreadable_file_is_an_os_error(tmp_path):
    with pytest.raises(OSError):
        load_fences(tmp_path / "missing.geojson")


def test_nan_literal_in_a_file_is_caught(tmp_path):
    path = tmp_path / "nan.geojson"
    text = json.dumps(collection(feature("n1"))).replace("120.31, 31.5]", "NaN, 31.5]", 1)
    path.write_text(text)
    with pytest.raises(FenceError, match="n1: coordinates.*non-finite"):
        load_fences(path)


def gate_site(fid, datum):
    """A 200 x 150 m site; its gate is 5 m inside the middle of the south edge (WGS-84)."""
    lat0, lng0 = 31.5610, 120.3120
    south, north = moved(lat0, lng0, 180, 75)[0], moved(lat0, lng0, 0, 75)[0]
    west, east = moved(lat0, lng0, 270, 100)[1], moved(lat0, lng0, 90, 100)[1]
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    if datum != "wgs84":
        ring = [list(transform(lng, lat, "wgs84", datum)) for lng, lat in ring]
    gate = moved(south, lng0, 0, 5)
    return feature(fid, geometry=ring_with(ring), datum=datum), gate


@pytest.mark.parametrize("datum", ["gcj02", "bd09"])
def test_site_drawn_on_a_chinese_map_matches_a_wgs84_ping_at_its_gate(datum):
    drawn, gate = gate_site("site-gate", datum)
    (fence,) = load_fences(collection(drawn))
    assert fence.datum == Datum(datum)
    assert FenceIndex([fence]).match(*gate) == ["site-gate"]
    # Read as if it were WGS-84, the same drawing misses the truck by hundreds of metres.
    naive = copy.deepcopy(drawn)
    del naive["properties"]["datum"]
    (wrong,) = load_fences(collection(naive))
    assert FenceIndex([wrong]).match(*gate) == []


def test_holes_and_multipolygons():
    outer = [[120.30, 31.50], [120.32, 31.50], [120.32, 31.52], [120.30, 31.52], [120.30, 31.50]]
    hole = [[120.305, 31.505], [120.305, 31.515], [120.315, 31.515], [120.315, 31.505]]
    zone = feature("zone", kind="restricted", hours=["07:00-20:00"], vehicle_kinds=["muck"])
    zone["geometry"] = {"type": "Polygon", "coordinates": [outer, hole + [hole[0]]]}
    parts = [[SQUARE], [[[x + 0.1, y] for x, y in SQUARE]]]
    multi = feature("multi", kind="depot", geometry={"type": "MultiPolygon", "coordinates": parts})
    fences = load_fences(collection(zone, multi))

    def covering(lat, lng):
        return [f.id for f in fences if f.area.covers(shapely.Point(lng, lat))]

    assert fences[1].area.geom_type == "MultiPolygon"
    assert covering(31.502, 120.302) == ["zone", "multi"]
    assert covering(31.512, 120.312) == []  # in the hole
    assert covering(31.505, 120.405) == ["multi"]  # the second part
    assert fences[0].hours == (TimeWindow(7 * 60, 20 * 60),)
    assert fences[0].vehicle_kinds == frozenset({"muck"})


def test_corridor_and_producer_buffers_are_metric():
    corridor = feature(
        "route", kind="corridor", geometry=line((120.30, 31.55), (120.33, 31.56)), buffer_m=50
    )
    producer = feature("shop", kind="producer", geometry=point(120.35, 31.58), radius_m=30)
    route, shop = load_fences(collection(corridor, producer))
    assert route.source.geom_type == "LineString" and route.buffer_m == 50.0
    assert shop.source.geom_type == "Point" and shop.radius_m == 30.0
    index = FenceIndex([route, shop])
    mid_lat, mid_lng = 31.555, 120.315
    azimuth = GEOD.Inverse(31.55, 120.30, 31.56, 120.33)["azi1"]
    for metres, expected in [(45, ["route"]), (55, [])]:
        for side in (-90, 90):
            assert index.match(*moved(mid_lat, mid_lng, azimuth + side, metres)) == expected
    for azimuth in (0, 90, 200):
        assert index.match(*moved(31.58, 120.35, azimuth, 28)) == ["shop"]
        assert index.match(*moved(31.58, 120.35, azimuth, 32)) == []


def test_inputs_may_be_a_feature_or_a_list_and_ids_may_be_integers():
    (one,) = load_fences(feature("solo"))
    assert one.id == "solo" and one.kind is FenceKind.SITE
    fences = load_fences([{**feature(), "id": 7}, feature("x")])
    assert [f.id for f in fences] == ["7", "x"]


def test_properties_source_and_orientation_are_kept():
    clockwise = SQUARE[::-1]
    (fence,) = load_fences(
        collection(feature("cw", geometry=ring_with(clockwise), permit_no="WX-2025-001"))
    )
    assert fence.properties["permit_no"] == "WX-2025-001"
    assert fence.name == "名称" and fence.district == "梁溪"
    assert fence.source.equals(shapely.Polygon(clockwise))
    assert fence.area.exterior.is_ccw  # RFC 7946 orientation ...
    assert fence.area.equals(fence.source)  # ... covering exactly the same area


def test_altitude_is_accepted_and_dropped():
    ring = [[x, y, 12.5] for x, y in SQUARE]
    (fence,) = load_fences(collection(feature("z", geometry=ring_with(ring))))
    assert not fence.area.has_z


def test_demo_file_round_trips():
    fences = load_fences(str(DEMO))
    raw = json.loads(DEMO.read_text(encoding="utf-8"))
    assert "approximate" in raw["description"].lower()
    assert 30 <= len(fences) <= 60
    assert set(Counter(f.kind for f in fences)) == set(FenceKind)
    assert Counter(f.datum for f in fences)[Datum.GCJ02] >= 2
    assert Counter(f.datum for f in fences)[Datum.BD09] >= 1
    assert any(len(getattr(f.area, "interiors", ())) for f in fences)
    assert sum(f.kind is FenceKind.CORRIDOR for f in fences) >= 2
    assert all(f.area.is_valid and f.area.geom_type in ("Polygon", "MultiPolygon") for f in fences)
    muck_hours = [f for f in fences if f.kind is FenceKind.RESTRICTED and "muck" in f.vehicle_kinds]
    assert any(str(w) == "07:00-20:00" for f in muck_hours for w in f.hours)
    assert {f.district for f in fences} >= {"梁溪", "锡山", "惠山", "滨湖", "新吴", "经开"}
    # back from WGS-84 to the datum each feature was drawn in gives the file's coordinates
    for fence, feat in zip(fences, raw["features"], strict=True):
        assert fence.id == feat["id"]
        given = shapely.get_coordinates(shapely.geometry.shape(feat["geometry"]))
        wgs = shapely.get_coordinates(fence.source)
        lng, lat = transform(wgs[:, 0], wgs[:, 1], "wgs84", fence.datum)
        tol = 3e-6 if fence.datum is Datum.BD09 else 1e-9
        assert abs(lng - given[:, 0]).max() < tol and abs(lat - given[:, 1]).max() < tol
    # the parsed mapping loads to the same fences
    again = load_fences(raw)
    assert [f.id for f in again] == [f.id for f in fences]
    assert all(a.area.equals_exact(b.area, 1e-12) for a, b in zip(again, fences, strict=True))
