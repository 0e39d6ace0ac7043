"""The console page around the alerts (issue 13): no live badge before data, one clock (北京时间 /
模拟数据时间), counters that add up, the vehicle card's links and mute, a district officer's
cross-district card, a critical alert missed while disconnected."""

from __future__ import annotations

import time
from datetime import datetime

import pytest

from api.app import create_app
from api.memory import memory_ports
from tests.api import browser as chromium
from tests.api.browser import OUTPUT
from tests.api.conftest import (
    BASE_MS,
    LX,
    Clock,
    alert,
    make_settings,
    make_users,
    ping,
    seed,
)
from tests.api.console.conftest import (
    BEIJING,
    FLEET,
    browser_page,
    fleet_fix,
    ids,
    texts,
    wait_until,
)

pytestmark = pytest.mark.timeout(300)


@pytest.mark.parametrize(
    ("demo", "roads", "waiting_text", "clock_label"),
    [
        (False, False, "等待数据", "北京时间"),
        (False, True, "等待数据", "北京时间"),  # its own roads drawn: still not a demo
        (True, True, "模拟中…", "模拟数据时间"),
    ],
    ids=["production", "production-with-roads", "demo"],
)
def test_no_live_badge_before_data(tmp_path, demo, roads, waiting_text, clock_label):
    """Until the first position the page says 等待数据 (the demo: 模拟中…), never 实时连接 over
    an empty map. The demo (map-config says ``demo``) shows its data time in the header,
    labelled 模拟数据时间; otherwise the header is the wall clock in Beijing time."""
    settings: dict = {"demo": demo}
    if roads:
        roads_file = tmp_path / "basemap.geojson"
        roads_file.write_text('{"type": "FeatureCollection", "features": []}', encoding="utf-8")
        settings["basemap_file"] = roads_file
    clock = Clock(time.time())
    app = create_app(make_settings(**settings), memory_ports(make_users(), clock=clock), clock)
    problems: list[str] = []
    with chromium.serving(app) as base, browser_page(base, "city", problems) as page:
        wait_until(page, "document.getElementById('link').dataset.state === 'waiting'")
        waiting = page.inner_text("#link")
        page.wait_for_timeout(1500)  # sockets open, counts sent: still nothing to show
        still = page.evaluate("document.getElementById('link').dataset.state")
        page.screenshot(path=str(OUTPUT / f"console_waiting_{'demo' if demo else 'live'}.png"))
        app.state.feed.position(ping("LX-9", 3, district=LX, kind="muck", speed_kmh=12))
        wait_until(page, "document.getElementById('link').dataset.state === 'up'")
        live = page.inner_text("#link")
        wait_until(
            page,
            "document.getElementById('clock').textContent.includes('2025') === "
            + ("true" if demo else "false"),
        )
        header = page.inner_text("#clock")
    assert problems == []
    assert (waiting, still, live) == (waiting_text, "waiting", "实时连接")
    assert header.endswith(clock_label)
    if demo:
        assert header == "2025-06-01 20:03:00 模拟数据时间"  # the newest position's time
    else:
        wall = datetime.fromtimestamp(time.time(), BEIJING)
        assert header[:10] == wall.strftime("%Y-%m-%d")


def test_counters_show_each_split_labelled(world):
    app, _clock, base = world
    problems: list[str] = []
    with browser_page(base, "city", problems) as page:
        wait_until(page, "document.getElementById('count-total').textContent !== '—'")
        wait_until(page, "document.getElementById('count-moving').textContent !== '—'")
        shown = page.evaluate(
            "Object.fromEntries(['total', 'online', 'offline', 'moving', 'parked', 'loaded',"
            " 'violating'].map((k) => [k, document.getElementById('count-' + k).textContent]))"
        )
        labels = texts(page, "#counters small, #counters .counter span, #counters .split-title")
    assert problems == []
    numbers = {k: int(v.replace(",", "")) for k, v in shown.items()}
    # Counted here from the fixes fed (the seed's four vehicles drive at 30 km/h, unloaded).
    fixes = [fleet_fix(i) for i in range(FLEET)] + [{"speed_kmh": 30.0}] * 4
    online = [f for f in fixes if f.get("state") != "offline"]
    assert numbers == {
        "total": FLEET + 4,
        "online": len(online),
        "offline": 1,
        "moving": sum(f["speed_kmh"] >= 5 for f in online),
        "parked": sum(f["speed_kmh"] < 5 for f in online),
        "loaded": sum(f.get("loaded") == "full" for f in online),  # LXF-04 counts here
        "violating": 1,  # and here
    }
    assert {"在线 / 离线", "在线车辆：行驶 / 停车", "重车（在线）", "违规中（在线）"} <= set(labels)


def click_vehicle(page, vid: str, lat: float, lng: float) -> str:
    """Centre the map on a vehicle, click where it is drawn until its card opens; the card's
    heading."""
    wait_until(page, "window.landun.map.map !== null")  # MapLibre has loaded its style
    page.evaluate(f"window.landun.map.focus({lat}, {lng}, 16)")
    box = page.locator("#map").bounding_box()
    for _ in range(20):
        page.wait_for_timeout(300)  # the vehicle source is sent on the next frames
        x, y = page.evaluate(f"window.landun.map.screen({lat}, {lng})")
        page.mouse.click(box["x"] + x, box["y"] + y)
        if page.locator(f'#card[data-id="{vid}"]').count():
            return page.inner_text("#card .card-head")
    raise AssertionError(f"clicking {vid} on the map opened no card")


def test_card_links_to_alerts_and_replay_and_the_alarm_mutes(world, tmp_path):
    app, _clock, base = world
    app.state.archive_dir = tmp_path  # an archive with nothing in it: replay opens, draws none
    problems: list[str] = []
    with browser_page(base, "city", problems) as page:
        wait_until(page, "document.getElementById('link').dataset.state === 'up'")
        page.fill("#search", "苏BLX-1")
        page.click('#search-results .search-item[data-id="LX-1"]')
        page.wait_for_selector('#card[data-id="LX-1"] .card-alert[data-alert="A-LX"]')
        wait_until(page, "window.landun.map.track.length === 3")  # its last hour: 3 fixes
        track = page.evaluate("window.landun.map.track")
        trip = page.inner_text('#card dd[data-fact="trip"]')
        permit = page.inner_text('#card dd[data-fact="permit"]')
        page.click('#card .card-alert[data-alert="A-LX"]')  # the card links to its alerts
        page.wait_for_selector('#detail[data-id="A-LX"]')
        page.click("#card .card-replay")  # and to its replay: the last hour of its data
        wait_until(page, "window.landun.replay.session !== null")
        replay = page.evaluate(
            "(() => { const s = window.landun.replay.session;"
            " return [s.vehicles, s.plan.from, s.plan.to]; })()"
        )
        page.click("#replay-close")
        # A click on a truck drawn on the map opens its card too.
        page.click("#card .close")
        clicked = click_vehicle(page, "XS-2", 31.57, 120.512)  # XS-2's newest seeded fix
        # Muted (kept in localStorage): a critical alert still pops up, silently.
        page.click("#mute")
        muted = page.evaluate("localStorage.getItem('landun.mute')")
        tones = page.evaluate("LandunSound.played")
        app.state.feed.alert(alert("CRIT-2", "LX-1", LX, minute=8, severity="critical"))
        page.wait_for_selector('#critical-popup[data-id="CRIT-2"]:not([hidden])')
        silent = page.evaluate("LandunSound.played") - tones
        page.keyboard.press("Escape")  # acknowledged from the keyboard
        page.wait_for_selector("#critical-popup", state="hidden")
        page.reload()  # the choice survives a reload
        page.wait_for_selector("#app:not([hidden])")
        still_muted = page.get_attribute("#mute", "data-muted")
    assert problems == []
    last_fix = BASE_MS + 2 * 60_000  # LX-1's newest seeded fix
    assert replay == [["LX-1"], last_fix - 3_600_000, last_fix]
    assert trip == "T-LX · 运输中 · 源头 site-lx · 重车 · 开始 06-01 19:40"  # under way
    assert permit == "P-LX · 有效至 2025-12-31 · 核准消纳点 term-xs"  # and its permit
    assert track == [[31.57, round(120.30 + 0.001 * m, 7)] for m in range(3)]  # WGS-84 here
    assert clicked.split("\n")[:2] == ["餐厨车", "苏BXS-2"]  # kind, plate
    assert (muted, silent, still_muted) == ("1", 0, "1")


def test_district_officer_opens_the_vehicle_of_an_alert_in_their_district(world):
    """XS-1 is registered in 锡山; an alert raised in 梁溪 names it: the 梁溪 officer opens its
    card from the alert (contract 2), though a search of theirs does not find it."""
    app, _clock, base = world
    problems: list[str] = []
    refused: list[str] = []
    with browser_page(base, "liangxi", problems) as page:
        page.on("response", lambda r: r.status >= 400 and refused.append(r.url.split("/api/")[-1]))
        wait_until(page, "document.getElementById('link').dataset.state === 'up'")
        page.fill("#search", "XS-1")
        page.wait_for_selector("#search-results .none")
        app.state.feed.alert(alert("CROSS-1", "XS-1", LX, minute=5))
        page.click('.alert-item[data-id="CROSS-1"]')
        page.click("#detail .vehicle-link")
        page.wait_for_selector('#card[data-id="XS-1"]')
        plate = page.inner_text("#card h3")
        listed = ids(page, "#card .card-alert", "alert")
        # the card's recent track too: the track route follows the card's rule
        wait_until(page, "window.landun.map.track.length >= 1")
    assert refused == [] and problems == []
    assert plate == "苏BXS-1"
    assert listed == ["CROSS-1"]  # its alerts the officer may see: not 锡山's A-XS


def test_a_critical_alert_missed_while_disconnected_still_pops_up():
    """The page's alert socket drops; meanwhile more alerts are raised than the server keeps
    for catching up (a log of 4), one of them critical: on reconnecting the page gets a
    ``resync`` (the current picture) and pops up the critical alert it never saw."""
    clock = Clock(time.time())
    ports = memory_ports(make_users(), alert_log_size=4, clock=clock)
    app = create_app(make_settings(), ports, clock)
    seed(app)
    problems: list[str] = []
    with chromium.serving(app) as base, browser_page(base, "city", problems) as page:
        wait_until(page, "document.querySelector('.alert-item[data-id=\"A-XS\"]') !== null")
        page.evaluate("window.landun.sockets.alerts.close()")  # reconnects after 0.5 s
        for minute in range(10, 16):
            severity = "critical" if minute == 12 else "high"
            app.state.feed.alert(
                alert(f"GAP-{minute}", "LX-1", LX, minute=minute, severity=severity)
            )
        page.wait_for_selector('#critical-popup[data-id="GAP-12"]:not([hidden])')
        listed = ids(page, ".alert-item")
    assert problems == []
    assert {f"GAP-{m}" for m in range(10, 16)} <= set(listed)
