"""The live map's vehicle store (api/static/map/vehicles.js, issue 13), run with node: the glide
from one fix to the next, event-time order, headings, the registry join, the filter."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

VEHICLES_JS = Path(__file__).parents[2] / "api" / "static" / "map" / "vehicles.js"
NODE = shutil.which("node")  # `make test` installs it (mk/web.mk web-tools); missing fails


def run(steps: str) -> dict:
    """Run ``steps`` (JavaScript using ``store``; ``shift`` adds 1° to the latitude, a stand-in
    for the datum shift) and return what it assigns to ``out``."""
    if NODE is None:
        pytest.fail("node missing: run `make web-tools`", pytrace=False)
    script = (
        f"const V = require({json.dumps(str(VEHICLES_JS))});"
        "const store = new V.VehicleStore((lat, lng) => [lat + 1, lng]);"
        "const out = {};"
        f"{steps};"
        "console.log(JSON.stringify(out));"
    )
    done = subprocess.run([NODE, "-e", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def fix(vehicle="V1", ts=1000, lat=31.5, lng=120.3, **extra) -> str:
    return json.dumps({"vehicle": vehicle, "ts": ts, "lat": lat, "lng": lng, **extra})


@pytest.mark.parametrize(
    ("at", "want"),
    [
        (1000, [32.5, 120.3]),  # the new fix has just arrived: still where the old one was
        (1250, [32.5, 120.325]),  # a quarter of the way
        (1500, [32.5, 120.35]),
        (2000, [32.5, 120.4]),  # a second later: at the new fix
        (9000, [32.5, 120.4]),
    ],
)
def test_a_new_fix_is_reached_over_a_second_from_where_the_vehicle_was_drawn(at, want):
    got = run(
        f"store.upsert({fix(ts=1)}, 0); store.upsert({fix(ts=2, lng=120.4)}, 1000);"
        f"out.p = store.positionOf(store.items.get('V1'), {at});"
        f"out.gliding = store.gliding({at})"
    )
    assert got["p"] == pytest.approx(want, abs=1e-9)
    assert got["gliding"] == (at < 2000)


def test_an_older_fix_is_ignored_and_a_snapshot_does_not_glide():
    got = run(
        f"store.upsert({fix(ts=5, lng=120.4)}, 0);"
        f"out.older = store.upsert({fix(ts=4, lng=120.0)}, 10);"
        "out.kept = store.items.get('V1').raw.lng;"
        f"store.replace([{fix(ts=6, lng=120.6)}], 20);"
        "out.snap = store.positionOf(store.items.get('V1'), 20)"
    )
    assert got == {"older": False, "kept": 120.4, "snap": [32.5, 120.6]}


@pytest.mark.parametrize(
    ("second", "want"),
    [
        ({"lat": 31.6}, 0),  # north
        ({"lng": 120.4}, 90),  # east
        ({"lat": 31.4}, 180),
        ({}, 90),  # standing still: keeps the heading it had (east, from the fix before)
        ({"lat": 31.6, "heading": 45}, 45),  # the terminal's own heading wins
    ],
)
def test_heading_from_the_terminal_else_from_the_movement(second, want):
    moves = {"lat": 31.5, "lng": 120.3} | second
    got = run(
        f"store.upsert({fix(ts=1, lng=120.2)}, 0); store.upsert({fix(ts=2)}, 2000);"
        f"store.upsert({fix(ts=3, **moves)}, 4000);"
        "out.h = store.items.get('V1').heading"
    )
    assert got["h"] == pytest.approx(want, abs=1e-6)


def test_features_join_the_registry_and_the_filter_hides_vehicles():
    meta = [
        {"id": "V1", "plate": "苏B12345", "kind": "kitchen", "company": "惠民", "district": "梁溪"},
        {"id": "V2", "plate": "苏B00002", "kind": "oil", "company": "绿源", "district": "锡山"},
    ]
    got = run(
        f"store.setMeta({json.dumps(meta, ensure_ascii=False)});"
        f"store.upsert({fix('V1', state='loaded', speed_kmh=30, loaded=True)}, 0);"
        f"store.upsert({fix('V2', kind='muck', state='violation')}, 0);"
        f"store.upsert({fix('V3', kind='tanker', state='towed')}, 0);"
        "out.all = store.features(5000).map((f) => [f.properties, f.geometry.coordinates]);"
        "out.record = store.record('V1');"
        "store.setFilter((v) => v.company === '惠民' || v.plate === null);"
        "out.shown = store.features(5000).map((f) => f.properties.id);"
        "out.hidden = store.shown('V2')"
    )
    props = {p["id"]: (p, xy) for p, xy in got["all"]}
    assert props["V1"] == (
        {"id": "V1", "kind": "kitchen", "state": "loaded", "heading": 0, "plate": "苏B12345"},
        [120.3, 32.5],  # shifted to the display datum once, on arrival
    )
    assert props["V2"][0]["kind"] == "muck"  # the fix's own kind before the registry's
    assert props["V3"][0] == {
        "id": "V3", "kind": "muck", "state": "idle", "heading": 0, "plate": "V3",
    }  # fmt: skip
    assert got["record"] == {
        "id": "V1", "lat": 31.5, "lng": 120.3, "state": "loaded", "kind": "kitchen",
        "district": "梁溪", "company": "惠民", "plate": "苏B12345", "speed_kmh": 30,
        "heading": 0, "loaded": True,
    }  # fmt: skip
    assert sorted(got["shown"]) == ["V1", "V3"] and got["hidden"] is False


def test_a_box_keeps_the_vehicles_inside_it_and_only_their_glides_ask_for_frames():
    box = {"south": 32.4, "west": 120.2, "north": 32.6, "east": 120.35}  # display datum
    got = run(
        f"store.upsert({fix('IN', ts=1)}, 0); store.upsert({fix('IN', ts=2, lng=120.31)}, 0);"
        f"store.upsert({fix('OUT', ts=1, lng=120.5)}, 0);"
        f"store.upsert({fix('OUT', ts=2, lng=120.6)}, 500);"
        f"const box = {json.dumps(box)};"
        "out.ids = store.features(600, box).map((f) => f.properties.id);"
        "out.all = store.features(600).length;"
        "out.early = store.gliding(600, box); out.late = store.gliding(1200, box);"
        "out.anywhere = store.gliding(1200)"
    )
    # IN glides until 1000, OUT (outside the box) until 1500
    assert got == {"ids": ["IN"], "all": 2, "early": True, "late": False, "anywhere": True}
