"""The live map in real headless Chromium against a production deployment (issue 10): `landun
api` over PostgreSQL and Redis, fed by `landun worker` and `landun alert-sink` from Kafka. An
enforcement officer logs in, sees the simulated trucks move, sees an alert the workers raised,
dispatches it from the panel, and the case is in the system of record."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from tests.api.browser import ARGS, CHROMIUM, OUTPUT, wait_until
from tests.landun.deployment import PASSWORD, login, ready

pytestmark = pytest.mark.timeout(300)


def test_the_map_works_on_the_production_deployment(deployment, sim):
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), f"{CHROMIUM} missing: run `make web-browser`"
    d = deployment
    d.user("enforce", "enforcement")
    api, sink, worker = d.api(), d.sink(), d.worker()
    ready(api)
    ready(sink)
    feed = d.ingest_in_background(sim, rate=400)  # ~16 s of trucks moving on the map
    ready(worker)
    OUTPUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1600, "height": 900})
        problems: list[str] = []
        page.on("pageerror", lambda exc: problems.append(str(exc)))
        page.on("console", lambda m: m.type == "error" and problems.append(m.text))
        page.goto(f"http://127.0.0.1:{api.port}/")
        page.fill("#username", "enforce")
        page.fill("#password", PASSWORD)
        page.click("#login-button")
        wait_until(page, "window.landun.map && window.landun.map.vehicles.size >= 10")
        moved = (
            "(() => { const m = window.landun.map; window.__seen = window.__seen || {};"
            " let n = 0; for (const [id, v] of m.vehicles) {"
            " const k = v.raw.lat + ',' + v.raw.lng;"
            " if (window.__seen[id] && window.__seen[id] !== k) n++; window.__seen[id] = k; }"
            " window.__moved = (window.__moved || 0) + n; return window.__moved >= 5; })()"
        )
        wait_until(page, moved)
        wait_until(page, "document.getElementById('link').dataset.state === 'up'")
        # The list re-renders as alerts arrive: act through selectors, not element handles.
        alert_id = page.wait_for_selector(".alert-item", timeout=120_000).get_attribute("data-id")
        page.click(f'.alert-item[data-id="{alert_id}"]')
        page.click('#detail button[data-action="dispatched"]')
        page.fill("#case-assignee", "新吴区城管执法中队")  # the dispatch form (issue 13)
        page.click("#case-submit")
        page.wait_for_selector(f'.alert-item[data-id="{alert_id}"] .badge.dispatched')
        page.screenshot(path=str(OUTPUT / "live-map-production.png"))
        browser.close()
    assert feed.wait(120) == 0
    assert problems == []
    status, body = api.get(f"/api/alerts/{alert_id}", login(api, "enforce"))
    case = orjson.loads(body)["case"]
    assert status == 200 and case["state"] == "dispatched"
    assert case["history"][-1]["by"] == "enforce"
    assert case["assignee"] == "新吴区城管执法中队" and case["deadline"] > 0
