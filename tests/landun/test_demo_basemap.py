"""`landun demo` writes the scenario's roads as the map's vector basemap (issue 13)."""

from __future__ import annotations

import argparse
import json

import pytest

from landun.commands import demo
from sim import DEFAULT_START
from sim.basemap import basemap
from sim.scenario import build_world
from stream.eventtime import parse_ts

ARGS = argparse.Namespace(vehicles=30, seed=2, start=DEFAULT_START, hours=3.0)


def test_the_demo_writes_its_first_night_s_roads_and_points_the_api_at_them(tmp_path, monkeypatch):
    monkeypatch.delenv("LANDUN_BASEMAP_FILE", raising=False)
    path = tmp_path / "basemap.geojson"
    demo._basemap(ARGS, path)
    start = parse_ts(DEFAULT_START)
    world = build_world(30, 2, start, start + 3 * 3_600_000)  # the night the demo plays first
    assert json.loads(path.read_text("utf-8")) == basemap(world)
    assert demo.os.environ["LANDUN_BASEMAP_FILE"] == str(path)


def test_an_operator_s_basemap_file_is_left_as_it_is(tmp_path, monkeypatch):
    own = tmp_path / "own.geojson"
    own.write_text('{"type": "FeatureCollection", "features": []}', "utf-8")
    monkeypatch.setenv("LANDUN_BASEMAP_FILE", str(own))
    demo._basemap(ARGS, tmp_path / "demo.geojson")
    assert not (tmp_path / "demo.geojson").exists()
    assert demo.os.environ["LANDUN_BASEMAP_FILE"] == str(own)


@pytest.fixture(autouse=True)
def _keep_the_environment(monkeypatch):
    """The demo sets LANDUN_BASEMAP_FILE for its own API; the tests after these must not see it."""
    monkeypatch.setenv("LANDUN_BASEMAP_FILE", "")
