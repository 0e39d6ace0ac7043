"""The scenario's roads as the demo's vector basemap (sim/basemap.py, issue 13)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sim.basemap import basemap, write_basemap
from sim.geo import to_latlng
from sim.scenario import build_world

START = 1_748_865_600_000  # 2025-06-02T20:00:00+08:00
HOURS = 12 * 3_600_000


@pytest.fixture(scope="module")
def world():
    return build_world(80, 3, START, START + HOURS)


def ends(feature) -> list[tuple[float, float]]:
    coords = feature["geometry"]["coordinates"]
    return [tuple(coords[0]), tuple(coords[-1])]


def lnglat(xy) -> tuple[float, float]:
    lat, lng = to_latlng(xy[0], xy[1])
    return round(float(lng), 6), round(float(lat), 6)


def test_every_corridor_is_an_arterial_drawn_along_its_centre_line(world):
    features = basemap(world)["features"]
    arterials = {
        f["properties"]["id"]: f for f in features if f["properties"]["class"] == "arterial"
    }
    assert sorted(arterials) == sorted(world.corridors)
    for cid, corridor in world.corridors.items():
        want = [list(lnglat(xy)) for xy in corridor.path]
        assert arterials[cid]["geometry"]["coordinates"] == want


def test_the_fleet_s_places_are_linked_by_roads(world):
    """Each depot, site, terminal of a permit, producer and plant is the end of a road: the
    officer sees where the trucks go from and to."""
    collection = basemap(world)
    assert collection["type"] == "FeatureCollection"
    features = collection["features"]
    assert {f["geometry"]["type"] for f in features} == {"LineString"}
    assert {f["properties"]["class"] for f in features} == {"arterial", "road"}
    assert all(len(f["geometry"]["coordinates"]) >= 2 for f in features)
    at_ends = {p for f in features if f["properties"]["class"] == "road" for p in ends(f)}
    used = {v.depot for v in world.vehicles}
    used |= {p.site for p in world.permits} | {t for p in world.permits for t in p.terminals}
    used |= {x for c in world.contracts for x in (*c.producers, *c.plants[:1])}
    missing = [pid for pid in sorted(used) if lnglat(world.places[pid].xy) not in at_ends]
    assert missing == []


def test_each_road_once_and_the_same_bytes_for_the_same_scenario(world, tmp_path):
    features = basemap(world)["features"]
    lines = [json.dumps(f["geometry"]["coordinates"]) for f in features]
    assert len(lines) == len(set(lines))
    again = build_world(80, 3, START, START + HOURS)
    a, b = tmp_path / "a" / "basemap.geojson", tmp_path / "b.geojson"
    assert write_basemap(world, a) == write_basemap(again, b) == len(features)
    assert a.read_bytes() == b.read_bytes()
    assert json.loads(a.read_text("utf-8")) == basemap(world)


def test_roads_a_simulation_drove_are_drawn_too():
    """A road the world memoised (one a vehicle drove) is in the basemap."""
    world = build_world(20, 4, START, START + HOURS)
    driven = world.road(np.array([1234.0, -2345.0]), np.array([5678.0, 910.0]), "muck")
    coords = [list(lnglat(xy)) for xy in driven]
    assert coords in [f["geometry"]["coordinates"] for f in basemap(world)["features"]]
