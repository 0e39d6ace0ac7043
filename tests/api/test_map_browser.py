"""The MapLibre live map (issue 13): the map configuration and basemap routes, then the page in
real headless Chromium (Debian's, driven by Playwright).

In the browser: MapLibre comes from this server's /static/vendor (every request to any other
host is blocked and fails the test); the demo's vector basemap draws the simulator's roads;
10,000 vehicles fed through the real API and its live websocket are all drawn at city scale
(clusters plus single vehicles add up to the fleet), as icons with plates at street scale, a
click on one gives its id, and a filter hides vehicles. The frame times at 10,000 vehicles go to
out/test/map_frames.json (printed, never asserted); screenshots to out/test/map_*.png.

WebGL runs on SwiftShader in headless Chromium without a GPU: which flags work and why is said
once, at ARGS in tests/api/browser.py (issue 13 brief: record which flags work). Software
rendering is a lower bound for the frame rate on an officer's GPU.
"""

from __future__ import annotations

import json
import math
import random
import struct
import threading
import zlib
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.memory import memory_ports
from sim.basemap import write_basemap
from sim.scenario import build_world
from tests.api import browser as chromium
from tests.api.browser import OUTPUT, sync_playwright, wait_until
from tests.api.conftest import (
    BASE_MS,
    LX,
    XS,
    Clock,
    auth,
    make_settings,
    make_users,
    seed,
    vehicle,
)

pytestmark = pytest.mark.timeout(400)

FLEET = 10_000
CENTRE = (31.55, 120.31)
SPREAD = (0.05, 0.09)  # half the fleet's box, degrees: inside the view at zoom 10
KINDS = ("muck",) * 17 + ("kitchen",) * 2 + ("oil",)
STATES = ("on_trip", "loaded", "idle", "offline", "violation")
VENDOR = "/static/vendor/maplibre-gl/"
START_MS = 1_748_865_600_000  # 2025-06-02T20:00:00+08:00


@pytest.fixture(scope="module")
def roads(tmp_path_factory):
    """The demo's basemap of a small scenario, written as `landun demo` writes it."""
    path = tmp_path_factory.mktemp("basemap") / "basemap.geojson"
    write_basemap(build_world(60, 1, START_MS, START_MS + 12 * 3_600_000), path)
    return path


def make_app(seeded: bool = True, **settings):
    app = create_app(make_settings(**settings), memory_ports(make_users(), clock=Clock()), Clock())
    if seeded:  # the conftest's two districts of vehicles, fences and alerts
        seed(app)
    return app


# ---- the map configuration (contract 5) --------------------------------------------------------

TILES = "https://webrd01.is.autonavi.com/appmaptile?style=8&x={x}&y={y}&z={z}"


@pytest.mark.parametrize(
    ("settings", "want"),
    [
        ({}, {"kind": "none"}),
        ({"basemap_file": "ROADS"}, {"kind": "vector", "url": "/api/map/basemap"}),
        ({"basemap_file": "MISSING"}, {"kind": "none"}),
        (
            {"basemap_file": "ROADS", "tile_url": TILES, "tile_attribution": "© 高德地图"},
            {"kind": "raster", "tiles": [TILES], "datum": "gcj02", "attribution": "© 高德地图"},
        ),
        (
            {"tile_url": TILES, "tile_datum": "wgs84"},
            {"kind": "raster", "tiles": [TILES], "datum": "wgs84", "attribution": ""},
        ),
    ],
)
def test_the_basemap_is_tiles_when_set_else_the_roads_file_else_none(
    settings, want, roads, tmp_path
):
    files = {"ROADS": roads, "MISSING": tmp_path / "none.geojson"}
    settings = {k: files.get(v, v) for k, v in settings.items()}
    with TestClient(make_app(**settings)) as client:
        config = client.get("/api/map-config", headers=auth(client.app, "city")).json()
    assert config["basemap"] == want
    assert config["tile_url"] == settings.get("tile_url", "")  # older pages' keys stay


def test_the_basemap_route_serves_the_file_to_a_signed_in_caller_else_404(roads, tmp_path):
    with TestClient(make_app(basemap_file=roads)) as client:
        got = client.get("/api/map/basemap", headers=auth(client.app, "liangxi"))
        anonymous = client.get("/api/map/basemap")
    assert got.status_code == 200 and got.json() == json.loads(roads.read_text("utf-8"))
    assert anonymous.status_code == 401
    for setting in (None, tmp_path / "gone.geojson"):
        with TestClient(make_app(basemap_file=setting)) as client:
            assert (
                client.get("/api/map/basemap", headers=auth(client.app, "city")).status_code == 404
            )


@pytest.mark.parametrize(
    ("user", "centre"),
    [
        ("liangxi", [31.57, 120.30]),  # site-lx
        ("enforce_lx", [31.57, 120.30]),
        ("xishan", [31.57, 120.51]),  # site-xs at 120.50 and term-xs at 120.52
        ("city", [31.49, 120.31]),  # the configured centre
        ("admin", [31.49, 120.31]),
    ],
)
def test_a_district_officer_s_view_starts_on_their_district_s_fences(user, centre):
    with TestClient(make_app()) as client:
        view = client.get("/api/map-config", headers=auth(client.app, user)).json()["view"]
    assert view["center"] == pytest.approx(centre, abs=1e-9)
    if centre == [31.49, 120.31]:
        assert view["zoom"] == 11
    else:  # the fences span 0.004° to 0.024°: zoomed in, within the clamp
        assert 9 <= view["zoom"] <= 14


# ---- the page --------------------------------------------------------------------------------


def plate(car: dict) -> str:
    return f"苏B{car['vehicle'][2:]}"


class Fleet(threading.Thread):
    """FLEET vehicles fed through the API's feed, each moving a little every half second (a
    terminal's fix every 10-30 s each, twice a second over the fleet), until paused or stopped."""

    def __init__(self, feed, ports):
        super().__init__(daemon=True)
        rng = random.Random(13)
        self.feed, self.stop, self.moving = feed, threading.Event(), threading.Event()
        self.moving.set()
        self.cars = [
            {
                "vehicle": f"M-{i:05d}",
                "district": (LX, XS)[i % 2],
                "kind": KINDS[i % len(KINDS)],
                "state": STATES[i % len(STATES)],
                "lat": CENTRE[0] + rng.uniform(-SPREAD[0], SPREAD[0]),
                "lng": CENTRE[1] + rng.uniform(-SPREAD[1], SPREAD[1]),
                "heading": rng.uniform(0, 360),
            }
            for i in range(FLEET)
        ]
        self.step = 0
        for car in self.cars:  # registered: the card of a clicked vehicle opens
            ports.vehicles.put(
                {**vehicle(car["vehicle"], car["district"], car["kind"]), "plate": plate(car)}
            )
        self.publish()

    def publish(self) -> None:
        ts = BASE_MS + 600_000 + self.step * 500
        for car in self.cars:
            rad = math.radians(car["heading"])
            car["lat"] += 0.00002 * math.cos(rad)
            car["lng"] += 0.00002 * math.sin(rad)
            self.feed.position({**car, "ts": ts, "speed_kmh": 36})
        self.step += 1

    def run(self) -> None:
        while not self.stop.wait(0.5):
            if self.moving.is_set():
                self.publish()


@pytest.fixture
def server(roads):
    app = make_app(False, basemap_file=roads, ws_position_cap=4 * FLEET)  # the fleet alone
    with chromium.serving(app) as base:
        yield app, base


# Rendered vehicles in the view: clusters (each counted by its size) plus single vehicles, every
# feature once (a point near a tile edge can be returned by two tiles).
RENDERED = """(() => {
  const m = window.landun.map.map;
  const clusters = new Map();
  m.queryRenderedFeatures({ layers: ['vehicle-clusters'] })
    .forEach((f) => clusters.set(f.properties.cluster_id, f.properties.point_count));
  const single = new Map();
  m.queryRenderedFeatures({ layers: ['vehicle-dots', 'vehicle-icons'] })
    .forEach((f) => single.set(f.properties.id, f.properties));
  const plates = new Set(m.queryRenderedFeatures({ layers: ['vehicle-plates'] })
    .map((f) => f.properties.plate));
  return { clusters: clusters.size, clustered: [...clusters.values()].reduce((a, b) => a + b, 0),
    single: [...single.values()], plates: [...plates], zoom: m.getZoom() };
})()"""
ROADS = """(() => window.landun.map.map
  .queryRenderedFeatures({ layers: ['roads', 'roads-arterial'] })
  .map((f) => f.properties.class))()"""
STARTED = "window.landun && window.landun.map && window.landun.map.map !== null"  # MapLibre loaded
SHOWN = "window.landun.map.map.queryRenderedFeatures({ layers: ['LAYER'] }).length > 0"
SETTLE_MS = 3000  # > 100 frames at 30 frames/s: frameStats covers this view only


def counted(page) -> dict:
    got = page.evaluate(RENDERED)
    got["total"] = got["clustered"] + len(got["single"])
    return got


def view_at(page, lat: float, lng: float, zoom: float) -> None:
    page.evaluate("([lat, lng, z]) => window.landun.map.focus(lat, lng, z)", [lat, lng, zoom])


def all_drawn(page, total: int) -> dict:
    """Poll until the rendered vehicles add up to ``total`` (the source updates off the main
    thread); the last count either way."""
    for _ in range(150):
        got = counted(page)
        if got["total"] == total:
            return got
        page.wait_for_timeout(100)
    return got


def test_ten_thousand_vehicles_on_the_demo_basemap(server):
    app, base = server
    OUTPUT.mkdir(parents=True, exist_ok=True)
    fleet = Fleet(app.state.feed, app.state.ports)
    with sync_playwright() as pw:
        browser = chromium.launch(pw)
        context = browser.new_context(viewport=chromium.VIEWPORT)
        outside: list[str] = []
        asked: list[str] = []

        def only_this_server(route):
            if urlsplit(route.request.url).hostname == "127.0.0.1":
                route.continue_()
            else:  # a CDN, a tile host, anything: blocked, and the test fails on it
                outside.append(route.request.url)
                route.abort()

        context.route("**/*", only_this_server)
        context.on("request", lambda r: asked.append(r.url))
        page = context.new_page()
        problems: list[str] = []
        chromium.catch_problems(page, problems)
        page.on("response", lambda r: r.status >= 400 and problems.append(f"{r.status} {r.url}"))
        chromium.log_in(page, base, "enforce")
        wait_until(page, STARTED, 900)
        renderer = page.evaluate(
            "(() => { const gl = window.landun.map.map.painter.context.gl;"
            " const d = gl.getExtension('WEBGL_debug_renderer_info');"
            " return gl.getParameter(d ? d.UNMASKED_RENDERER_WEBGL : gl.RENDERER); })()"
        )

        # The demo's basemap: the simulator's roads, drawn, arterials among them.
        view_at(page, *CENTRE, 11)
        wait_until(page, f"{ROADS}.includes('arterial')")
        road_classes = set(page.evaluate(ROADS))
        page.screenshot(path=str(OUTPUT / "map_basemap.png"))
        page.wait_for_timeout(SETTLE_MS)
        empty_frames = page.evaluate("window.landun.map.frameStats()")  # the same run's baseline

        # 10,000 vehicles through the API's feed and the live websocket.
        fleet.start()
        view_at(page, *CENTRE, 10)
        wait_until(page, f"window.landun.map.vehicles.size >= {FLEET}", rounds=600)
        city = all_drawn(page, FLEET)
        page.wait_for_timeout(SETTLE_MS)
        city_frames = page.evaluate("window.landun.map.frameStats()")
        page.screenshot(path=str(OUTPUT / "map_city.png"))

        # Street scale: single vehicles as icons with their plates, gliding between fixes.
        first = fleet.cars[0]
        meta = [{"id": c["vehicle"], "plate": plate(c), "kind": c["kind"]} for c in fleet.cars]
        page.evaluate("(list) => window.landun.map.setVehicleMeta(list)", meta)
        view_at(page, first["lat"], first["lng"], 15)
        wait_until(page, SHOWN.replace("LAYER", "vehicle-plates"))
        page.wait_for_timeout(SETTLE_MS)
        street_frames = page.evaluate("window.landun.map.frameStats()")
        street = counted(page)
        page.screenshot(path=str(OUTPUT / "map_street.png"))

        # A click on a vehicle gives its id (stopped first, so it stays under the pointer).
        fleet.moving.clear()
        page.wait_for_timeout(1500)  # the last glide ends
        page.evaluate("window.landun.map.onVehicleClick((id) => { window.clickedVehicle = id; })")
        target = page.evaluate(
            """(() => { const m = window.landun.map.map;
            const c = m.getCanvas().getBoundingClientRect();
            const [f] = m.queryRenderedFeatures([[c.width / 2 - 200, c.height / 2 - 150],
              [c.width / 2 + 200, c.height / 2 + 150]], { layers: ['vehicle-icons'] });
            const p = m.project(f.geometry.coordinates);
            return { id: f.properties.id, x: c.left + p.x, y: c.top + p.y }; })()"""
        )
        page.mouse.click(target["x"], target["y"])
        wait_until(page, "window.clickedVehicle !== undefined")
        clicked = page.evaluate("window.clickedVehicle")
        page.screenshot(path=str(OUTPUT / "map_click.png"))
        # select(id): ringed, and the map centred on it.
        other = fleet.cars[1]
        # The centre and the vehicle are read in the same task as select (jumpTo is immediate):
        # positions still queued on a loaded machine may move the vehicle right after.
        centred = page.evaluate(
            "(id) => { const lm = window.landun.map; lm.select(id); const c = lm.map.getCenter();"
            " const v = lm.vehicles.get(id); return [[c.lat, c.lng], [v.lat, v.lng]]; }",
            other["vehicle"],
        )
        ringed = "window.landun.map.map.queryRenderedFeatures({ layers: ['vehicle-selected'] })"
        wait_until(page, f"{ringed}.map((f) => f.properties.id).join() === '{other['vehicle']}'")
        selected = [page.evaluate(f"{ringed}.map((f) => f.properties.id)"), *centred]

        # A filter hides vehicles: only the oil vehicles are drawn.
        page.evaluate("window.landun.map.setFilter((v) => v.kind === 'oil')")
        view_at(page, *CENTRE, 10)
        oil = sum(c["kind"] == "oil" for c in fleet.cars)
        filtered = all_drawn(page, oil)
        view_at(page, first["lat"], first["lng"], 15)
        wait_until(page, SHOWN.replace("LAYER", "vehicle-icons"))
        filtered_street = counted(page)
        page.screenshot(path=str(OUTPUT / "map_filtered.png"))
        browser.close()
    fleet.stop.set()

    frames = {
        "vehicles": FLEET,
        "chromium_args": chromium.ARGS,
        "webgl_renderer": renderer,
        "viewport": [1600, 900],
        "no_vehicles_zoom_11": empty_frames,
        "city_zoom_10": city_frames,
        "street_zoom_15": street_frames,
        "note": "rAF deltas over the last 100 frames, software WebGL on a shared machine: a "
        "lower bound; no_vehicles is the same page before the fleet, the machine's own floor",
    }
    (OUTPUT / "map_frames.json").write_text(json.dumps(frames, indent=2), encoding="utf-8")
    print("\nmap frames at 10,000 vehicles:", json.dumps(frames))

    assert outside == []  # nothing left this machine: no CDN, no tiles, no fonts
    assert f"{base}{VENDOR}maplibre-gl.mjs" in asked and f"{base}{VENDOR}maplibre-gl.css" in asked
    assert f"{base}{VENDOR}maplibre-gl-worker.mjs" in [u.split("?")[0] for u in asked]
    assert road_classes == {"arterial", "road"}
    # City scale: clusters and single vehicles account for every vehicle of the fleet, once.
    assert city["total"] == FLEET and city["clusters"] > 0, city
    # Street scale: icons with plates from the registry, kinds and states as sent.
    cars = {c["vehicle"]: c for c in fleet.cars}
    assert street["single"] and street["clusters"] == 0
    for f in street["single"]:
        car = cars[f["id"]]
        assert (f["kind"], f["state"]) == (car["kind"], car["state"])
    assert set(street["plates"]) <= {m["plate"] for m in meta} and street["plates"]
    assert clicked == target["id"]
    assert selected[0] == [other["vehicle"]]
    assert selected[1] == pytest.approx(selected[2], abs=1e-6)  # where the page last saw it
    assert filtered["total"] == oil, filtered
    assert {f["kind"] for f in filtered_street["single"]} == {"oil"}
    assert problems == []


# ---- raster tiles in GCJ-02 (production: Amap, Tencent...; docs/map.md) -------------------------


def png(rgb: tuple[int, int, int], size: int = 256) -> bytes:
    """A plain ``size`` x ``size`` PNG tile of one colour."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    row = b"\x00" + bytes(rgb) * size
    head = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", head)
        + chunk(b"IDAT", zlib.compress(row * size))
        + chunk(b"IEND", b"")
    )


def tile_of(lat: float, lng: float, z: int) -> tuple[int, int]:
    """The XYZ tile (x, y from the north) holding a point at zoom ``z``."""
    n = 2**z
    rad = math.radians(lat)
    return int((lng + 180) / 360 * n), int((1 - math.asinh(math.tan(rad)) / math.pi) / 2 * n)


@pytest.mark.parametrize(("row", "tms"), [("{y}", False), ("{-y}", True)])
def test_gcj02_raster_tiles_shift_every_position_once(row, tms):
    """Tiles from LANDUN_TILE_URL (served here by the test as the tile host would): the tile
    under the view is asked for by its XYZ (or TMS, for ``{-y}``) address; a truck's WGS-84 fix
    is drawn where GCJ-02 puts it, and the view the server is told of is WGS-84 again."""
    app = make_app(tile_url=f"http://tiles.test/{{z}}/{{x}}/{row}.png", tile_datum="gcj02")
    tiles: list[str] = []
    truck = (31.5603, 120.2984)  # WGS-84
    with chromium.serving(app) as base, sync_playwright() as pw:
        browser = chromium.launch(pw)
        context = browser.new_context(viewport=chromium.VIEWPORT)

        def tile_host(route):
            tiles.append(route.request.url)
            route.fulfill(status=200, content_type="image/png", body=png((30, 60, 90)))

        context.route("http://tiles.test/**", tile_host)
        page = context.new_page()
        problems: list[str] = []
        chromium.catch_problems(page, problems)
        chromium.log_in(page, base, "enforce")
        wait_until(page, STARTED, 900)
        view_at(page, *truck, 15)
        app.state.feed.position(
            {"vehicle": "GCJ-1", "ts": BASE_MS + 600_000, "lat": truck[0], "lng": truck[1],
             "state": "on_trip", "kind": "muck", "district": LX, "speed_kmh": 20}
        )  # fmt: skip
        wait_until(page, SHOWN.replace("LAYER", "vehicle-icons"), rounds=600)
        gcj = page.evaluate("([a, b]) => LandunDatum.wgs84ToGcj02(a, b)", list(truck))
        drawn = page.evaluate(
            """(() => { const m = window.landun.map;
                const f = m.map.queryRenderedFeatures({ layers: ['vehicle-icons'] })
                  .find((x) => x.properties.id === 'GCJ-1');
                const c = m.map.getCenter();
                const v = m.vehicles.get('GCJ-1');
                return { at: f.geometry.coordinates, held: [v.lat, v.lng], centre: [c.lat, c.lng],
                  bbox: m.bboxWgs(0) }; })()"""
        )
        zoom = page.evaluate("Math.round(window.landun.map.map.getZoom())")
        page.screenshot(path=str(OUTPUT / f"map_raster_{'tms' if tms else 'xyz'}.png"))
        browser.close()

    # MapLibre asks 256 px tiles one zoom level above its own 512 px zoom.
    z = zoom + 1
    x, y = tile_of(*gcj, z)
    want = f"http://tiles.test/{z}/{x}/{(2**z - 1 - y) if tms else y}.png"
    assert want in tiles, (want, tiles[:5])
    assert drawn["held"] == pytest.approx(gcj, abs=1e-9)  # shifted once, on arrival
    # Drawn where GCJ-02 puts it (the tile's) and the map centred there; the map's features come
    # back through single-precision tiles: ~1e-6 degrees.
    assert drawn["at"] == pytest.approx([gcj[1], gcj[0]], abs=2e-6)
    assert drawn["centre"] == pytest.approx(gcj, abs=1e-7)
    west, south, east, north = drawn["bbox"]  # the server's viewport: WGS-84 again
    assert (west + east) / 2 == pytest.approx(truck[1], abs=5e-6)  # rounded to 1e-6
    assert (south + north) / 2 == pytest.approx(truck[0], abs=2e-4)  # Mercator: not quite mid
    assert abs(gcj[1] - truck[1]) > 0.004  # the shift is some 500 m here: the test can tell
    assert problems == []  # no tile refused by the page's CSP
