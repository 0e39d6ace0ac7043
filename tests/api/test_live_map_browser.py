"""The live map in real headless Chromium (Debian's, driven by Playwright): log in, see vehicles
move and an alert appear, dispatch it from the panel; a screenshot goes to the test output."""

from __future__ import annotations

import json
import math
import os
import random
import threading
from pathlib import Path

import pytest

from api.app import create_app
from api.memory import memory_ports
from tests.api.conftest import BASE_MS, LX, PASSWORD, Clock, alert, make_settings, make_users, seed

# The page waits have their own timeouts; this bounds server start-up and shutdown too.
pytestmark = pytest.mark.timeout(240)

CHROMIUM = "/usr/bin/chromium"
# The map is WebGL (MapLibre, issue 13). Headless Chromium 156 here has no GPU: WebGL2 runs on
# SwiftShader (ANGLE over Vulkan), which `--enable-unsafe-swiftshader` allows explicitly. With
# `--use-angle=swiftshader` (or `--use-gl=swiftshader`) the page's compositing went through
# SwiftShader too and a frame took ~300 ms (replay at 1000x fell a seek behind); with
# `--disable-gpu` the compositor stays in software while WebGL still gets SwiftShader, ~18 ms a
# frame (tests/api/test_map_browser.py records the frame times at 10,000 vehicles).
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--enable-unsafe-swiftshader",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
OUTPUT = Path(os.environ.get("LANDUN_TEST_OUTPUT", Path(__file__).parents[2] / "out" / "test"))
DEMO_FENCES = Path(__file__).parents[2] / "geofence" / "data" / "wuxi_demo.geojson"
STATES = ("on_trip", "loaded", "idle", "offline", "violation")
DISTRICTS = ("梁溪", "锡山", "惠山", "滨湖", "新吴")

if not Path(CHROMIUM).exists():
    # `make test` installs it (mk/web.mk). Missing, the module fails to collect, in CI and on a
    # developer's machine alike: a skip would hide the browser test (issue 15).
    raise RuntimeError(f"{CHROMIUM} missing: run `make web-browser`")
from playwright.sync_api import sync_playwright  # noqa: E402  (a dev dependency: never skipped)

# The MapLibre map has loaded and draws vehicles (clusters, dots or icons: map/style.js).
DRAWN = """(() => { const m = window.landun.map.map;
  return m !== null && m.queryRenderedFeatures(
    { layers: ['vehicle-clusters', 'vehicle-dots', 'vehicle-icons'] }).length > 0; })()"""


# The properties of the features the map draws in layer LAYER ({fid, kind, ...} for fences).
RENDERED = """window.landun.map.map.queryRenderedFeatures({ layers: ['LAYER'] })
  .map((f) => ({ id: f.properties.fid, kind: f.properties.kind }))"""


def wait_until(page, expression: str, rounds: int = 300) -> None:
    """Poll ``expression`` in the page (``page.evaluate`` runs outside the page's CSP, which
    forbids the eval that ``wait_for_function`` needs) until it is true."""
    for _ in range(rounds):
        if page.evaluate(expression):
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"never true in the page: {expression}")


class Fleet(threading.Thread):
    """Moves a few hundred vehicles around Wuxi until stopped (a bounded number of rounds)."""

    def __init__(self, feed, count: int = 300):
        super().__init__(daemon=True)
        rng = random.Random(7)
        self.feed, self.stop = feed, threading.Event()
        self.cars = [
            (
                f"SIM-{i:03d}",
                rng.choice(DISTRICTS),
                31.49 + rng.uniform(-0.12, 0.12),
                120.31 + rng.uniform(-0.16, 0.16),
                rng.uniform(0, 2 * math.pi),
                rng.choice(STATES),
            )
            for i in range(count)
        ]

    def run(self) -> None:
        for step in range(2000):
            if self.stop.wait(0.25):
                return
            ts = BASE_MS + 600_000 + step * 10_000  # after the seeded pings
            for vid, district, lat, lng, angle, state in self.cars:
                r = 0.0004 * step
                pos = {"lat": lat + r * math.sin(angle), "lng": lng + r * math.cos(angle)}
                self.feed.position(
                    {
                        "vehicle": vid,
                        "district": district,
                        "kind": "muck",
                        "ts": ts,
                        "state": state,
                        "speed_kmh": 35,
                        **pos,
                    }
                )
            self.feed.position(
                {
                    "vehicle": "LX-1",
                    "ts": ts,
                    "lat": 31.575,
                    "speed_kmh": 30,
                    "lng": 120.30 + 0.0003 * step,
                    "state": "loaded",
                }
            )


@pytest.fixture
def server():
    import uvicorn

    clock = Clock()
    app = create_app(make_settings(), memory_ports(make_users(), clock=clock), clock)
    seed(app)
    for feature in json.loads(DEMO_FENCES.read_text(encoding="utf-8"))["features"]:
        app.state.ports.fences.put(feature)
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    for _ in range(200):
        if uv.started:
            break
        threading.Event().wait(0.05)
    port = uv.servers[0].sockets[0].getsockname()[1]
    fleet = Fleet(app.state.feed)
    fleet.start()
    yield app, f"http://127.0.0.1:{port}"
    fleet.stop.set()
    uv.should_exit = True
    thread.join(timeout=10)


def test_login_watch_and_dispatch(server):
    app, base = server
    OUTPUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1600, "height": 900})
        problems: list[str] = []
        page.on("pageerror", lambda exc: problems.append(str(exc)))
        page.on("console", lambda m: m.type == "error" and problems.append(m.text))
        page.goto(base + "/")
        page.fill("#username", "enforce")
        page.fill("#password", PASSWORD)
        page.click("#login-button")
        wait_until(page, "window.landun.map && window.landun.map.vehicles.size >= 300")
        wait_until(page, DRAWN, rounds=600)  # and the WebGL map shows them (issue 13)
        before = page.evaluate("window.landun.map.vehicles.get('LX-1').raw.lng")
        wait_until(page, f"window.landun.map.vehicles.get('LX-1').raw.lng > {before}")
        wait_until(
            page,
            "Number(document.getElementById('count-total').textContent.replace(/,/g, '')) >= 300",
        )

        wait_until(page, "document.getElementById('link').dataset.state === 'up'")
        page.screenshot(path=str(OUTPUT / "live-map-overview.png"))
        app.state.feed.alert(
            alert(
                "E2E-1",
                "LX-1",
                LX,
                minute=5,
                lat=31.575,
                lng=120.301,
                fence="site-liangxi-nanchang",
            )
        )
        item = page.wait_for_selector('.alert-item[data-id="E2E-1"]')
        item.click()
        page.wait_for_selector('#detail button[data-action="dispatched"]').click()
        page.fill("#case-assignee", "梁溪区城管执法中队")  # the dispatch form (issue 13)
        page.click("#case-submit")
        page.wait_for_selector('.alert-item[data-id="E2E-1"] .badge.dispatched')
        wait_until(page, "window.landun.map.track.length >= 1")
        # On the WebGL map: the track drawn, the alert's fence outlined (issue 13).
        wait_until(page, RENDERED.replace("LAYER", "track") + ".length > 0")
        wait_until(page, RENDERED.replace("LAYER", "fence-hot-line") + ".length > 0")
        hot = page.evaluate(RENDERED.replace("LAYER", "fence-hot-line") + ".map((f) => f.id)")
        fences = page.evaluate(RENDERED.replace("LAYER", "fence-fill") + ".map((f) => f.kind)")
        rings = page.evaluate(  # the open and dispatched alerts in view, ringed by severity
            "window.landun.map.map.queryRenderedFeatures({ layers: ['alert-rings'] })"
            ".map((f) => [f.properties.id, f.properties.severity])"
        )
        # The map's datum port reproduces the shared WGS-84 -> GCJ-02 test vector.
        gcj = page.evaluate("LandunDatum.wgs84ToGcj02(31.1774276, 121.5272106)")
        page.screenshot(path=str(OUTPUT / "live-map.png"))
        page.click("#app [data-lang-toggle]")
        english = page.inner_text('.alert-item[data-id="E2E-1"] .badge')
        page.screenshot(path=str(OUTPUT / "live-map-en.png"))
        browser.close()
    assert english == "Dispatched"
    assert problems == []  # no script errors, nothing the page's CSP refused
    assert set(hot) == {"site-liangxi-nanchang"}  # the alert's fence, and no other
    assert ["E2E-1", "high"] in rings
    assert "site" in fences and set(fences) <= {
        "site", "transfer", "terminal", "producer", "plant", "restricted", "depot", "corridor"
    }  # fmt: skip
    case = app.state.ports.alerts.get("E2E-1")["case"]
    assert case["state"] == "dispatched" and case["history"][-1]["by"] == "enforce"
    assert abs(gcj[0] - 31.17530398364597) < 1e-9 and abs(gcj[1] - 121.531541859215) < 1e-9
    assert (OUTPUT / "live-map.png").stat().st_size > 10_000
