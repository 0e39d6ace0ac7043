"""The live map in real headless Chromium (Debian's, driven by Playwright): log in, see vehicles
move and an alert appear, dispatch it from the panel; a screenshot goes to the test output."""

from __future__ import annotations

import json
import math
import random
import threading
from pathlib import Path

import pytest

from api.app import create_app
from api.memory import memory_ports
from tests.api import browser as chromium
from tests.api.browser import OUTPUT, sync_playwright, wait_until
from tests.api.conftest import BASE_MS, LX, Clock, alert, make_settings, make_users, seed

# The page waits have their own timeouts; this bounds server start-up and shutdown too.
pytestmark = pytest.mark.timeout(240)

DEMO_FENCES = Path(__file__).parents[2] / "geofence" / "data" / "wuxi_demo.geojson"
STATES = ("on_trip", "loaded", "idle", "offline", "violation")
DISTRICTS = ("梁溪", "锡山", "惠山", "滨湖", "新吴")

# The MapLibre map has loaded and draws vehicles (clusters, dots or icons: map/style.js).
DRAWN = """(() => { const m = window.landun.map.map;
  return m !== null && m.queryRenderedFeatures(
    { layers: ['vehicle-clusters', 'vehicle-dots', 'vehicle-icons'] }).length > 0; })()"""


# The properties of the features the map draws in layer LAYER ({fid, kind, ...} for fences).
RENDERED = """window.landun.map.map.queryRenderedFeatures({ layers: ['LAYER'] })
  .map((f) => ({ id: f.properties.fid, kind: f.properties.kind }))"""


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
    clock = Clock()
    app = create_app(make_settings(), memory_ports(make_users(), clock=clock), clock)
    seed(app)
    for feature in json.loads(DEMO_FENCES.read_text(encoding="utf-8"))["features"]:
        app.state.ports.fences.put(feature)
    with chromium.serving(app) as base:
        fleet = Fleet(app.state.feed)
        fleet.start()
        yield app, base
        fleet.stop.set()


def test_login_watch_and_dispatch(server):
    app, base = server
    OUTPUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = chromium.launch(pw)
        page = browser.new_page(viewport=chromium.VIEWPORT)
        problems: list[str] = []
        chromium.catch_problems(page, problems)
        chromium.log_in(page, base, "enforce")
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
