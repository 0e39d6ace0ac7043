"""The duty officer's console in real headless Chromium (issue 13): every role logs in and sees
what it may do; a truck found by its plate and its card opened; a filter by kind; a critical
alert arriving through the feed with its pop-up and tone; a case dispatched with the form
(assignee, deadline, note), handled and closed with notes, another dismissed with a reason; the
day's case list with an overdue case standing out; every time in Beijing time, labelled.
Screenshots go to out/test/console_*.png for a person to look at."""

from __future__ import annotations

import contextlib
import math
import re
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from api.app import create_app
from api.memory import memory_ports
from tests.api import browser as chromium
from tests.api.browser import OUTPUT, sync_playwright
from tests.api.browser import wait_until as poll
from tests.api.conftest import (
    BASE_MS,
    LX,
    ROLES,
    XS,
    Clock,
    alert,
    make_settings,
    make_users,
    ping,
    seed,
)

pytestmark = pytest.mark.timeout(300)

KINDS = ("muck", "muck", "kitchen", "oil")  # of the extra Liangxi fleet, by index modulo 4
FLEET = 24
DAY = "2025-06-01"  # the Beijing day of the seeded data (BASE_MS is 20:00 that day)
BEIJING = timezone(timedelta(hours=8))

# Who may take each action on an open case (api/cases.py ACTORS), as the card must offer it.
OPEN_ACTIONS = {
    "admin": {"dispatched", "dismissed"},
    "city": {"dispatched", "dismissed"},
    "liangxi": {"dispatched", "dismissed"},
    "xishan": {"dispatched", "dismissed"},
    "enforce": {"dispatched"},
    "enforce_lx": {"dispatched"},
    "viewer": set(),
}


def fleet_vehicle(i: int) -> dict:
    """A registered Liangxi vehicle with a plate in the painted form (苏B·D3007)."""
    return {
        "id": f"LXF-{i:02d}",
        "kind": KINDS[i % 4],
        "company": "梁溪清运" if i % 2 else "梁溪渣土运输",
        "district": LX,
        "terminal_phone": f"01390000{i:04d}",
        "plate": f"苏B·D30{i:02d}",
    }


def fleet_fix(i: int) -> dict:
    """The fleet's one fix each: speeds 0/20/40 km/h; every fourth loaded; LXF-04 loaded and
    in violation; LXF-23 offline."""
    extra = {"loaded": "full"} if i % 4 == 0 else {}
    if i == 4:
        extra["state"] = "violation"
    if i == 23:
        extra["state"] = "offline"
    return extra | {"speed_kmh": (i % 3) * 20.0}


def build_app(clock: Clock, with_data: bool = True):
    app = create_app(make_settings(), memory_ports(make_users(), clock=clock), clock)
    if not with_data:
        return app
    seed(app)
    # LX-1's trip under way, as the engine records one: loaded at site-lx under permit P-LX.
    app.state.ports.trips.put(
        {"id": "T-LX", "vehicle": "LX-1", "kind": "muck", "site": "site-lx", "permit": "P-LX"}
        | {"load_ts": "2025-06-01T19:40:00+08:00", "status": "open", "overdue": False}
    )
    for i in range(FLEET):
        record = fleet_vehicle(i)
        app.state.ports.vehicles.put(record)
        app.state.feed.position(ping(record["id"], 3, lat=31.57 + 0.002 * i, **fleet_fix(i)))
    return app


@contextlib.contextmanager
def browser_page(base: str, username: str, problems: list[str], timezone: str = "Europe/London"):
    """A logged-in page in its own browser context. The browser's zone is not Beijing's, so a
    time shown in Beijing time proves the page converts it."""
    with sync_playwright() as pw:
        browser = chromium.launch(pw)
        context = browser.new_context(viewport=chromium.VIEWPORT, timezone_id=timezone)
        page = context.new_page()
        PROBLEMS.clear()
        chromium.catch_problems(page, problems, f"{username}: ")
        chromium.catch_problems(page, PROBLEMS, f"{username}: ")
        chromium.log_in(page, base, username)
        page.wait_for_selector("#app:not([hidden])")
        try:
            yield page
        finally:
            browser.close()


PROBLEMS: list[str] = []  # the page's script errors, named when a wait fails


def wait_until(page, expression: str) -> None:
    """``poll`` for up to a minute (the machine is shared; MapLibre may take long to start)."""
    try:
        poll(page, expression, rounds=600)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; page problems: {PROBLEMS}") from None


def texts(page, selector: str) -> list[str]:
    return page.eval_on_selector_all(selector, "(nodes) => nodes.map((n) => n.textContent)")


def ids(page, selector: str, key: str = "id") -> list[str]:
    return page.eval_on_selector_all(selector, f"(nodes) => nodes.map((n) => n.dataset.{key})")


@pytest.fixture
def world():
    # The server's wall clock starts at the browser's (the real one), so that a deadline the
    # page accepts as "after now" is after now for the server too; the test then moves it.
    clock = Clock(time.time())
    app = build_app(clock)
    with chromium.serving(app) as base:
        yield app, clock, base


def test_every_role_logs_in_and_sees_its_scope(world):
    app, _clock, base = world
    OUTPUT.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    seen = {}
    for username, (_role, district) in ROLES.items():
        with browser_page(base, username, problems) as page:
            wait_until(page, "document.getElementById('link').dataset.state === 'up'")
            wait_until(
                page, "/^[0-9,]+$/.test(document.getElementById('count-online').textContent)"
            )
            who = page.inner_text("#who")
            wait_until(page, "window.landun.map.fences.length > 0")
            fences = set(page.evaluate("window.landun.map.fences.map((f) => f.id)"))
            # Search by a plate fragment common to every registered plate: only the scope's come.
            page.fill("#search", "苏B")
            wait_until(page, "document.querySelectorAll('#search-results .search-item').length > 0")
            found = set(ids(page, "#search-results .search-item"))
            own = "A-XS" if district == XS else "A-LX"
            page.click(f'.alert-item[data-id="{own}"]')
            page.wait_for_selector(f'#detail[data-id="{own}"]')
            actions = set(ids(page, "#detail [data-action]", "action"))
            district_filter = page.is_disabled("#filter-district")
            page.screenshot(path=str(OUTPUT / f"console_role_{username}.png"))
            seen[username] = (who, found, actions, district_filter, fences)
    assert problems == []
    for username, (_role, district) in ROLES.items():
        who, found, actions, district_filter, fences = seen[username]
        # a district officer's map draws their district's fences (issue 13); the city's, all
        assert (
            fences
            == {
                LX: {"site-lx"},
                XS: {"site-xs", "term-xs"},
                None: {"site-lx", "site-xs", "term-xs"},
            }[district]
        ), username
        assert username in who
        prefixes = {v.split("-")[0] for v in found}
        if district == LX:
            assert prefixes <= {"LX", "LXF"} and "LX-1" in found
        elif district == XS:
            assert prefixes == {"XS"}
        else:
            assert {"LX-1", "XS-1"} <= found
        assert actions == OPEN_ACTIONS[username], username
        assert district_filter is (district is not None)


def test_find_filter_alert_dispatch_close_dismiss(world):
    app, clock, base = world
    OUTPUT.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    store = app.state.ports.alerts
    with browser_page(base, "liangxi", problems) as page:
        wait_until(page, "document.getElementById('link').dataset.state === 'up'")
        # The company filter's options come from the registry, read after the page starts.
        wait_until(
            page,
            "[...document.querySelectorAll('#filter-company option')].some((o) =>"
            " o.value === '梁溪清运')",
        )
        # Every time on the page is Beijing time, labelled, whatever the browser's zone.
        header = page.inner_text("#clock")
        assert header.endswith("北京时间")
        assert page.evaluate(f"LandunClock.format({BASE_MS})") == "2025-06-01 20:00:00 北京时间"

        # Find a truck by part of its plate, typed without the painted dot; open its card.
        page.fill("#search", "d3007")
        wait_until(page, "document.querySelectorAll('#search-results .search-item').length === 1")
        page.click('#search-results .search-item[data-id="LXF-07"]')
        page.wait_for_selector('#card[data-id="LXF-07"]')
        selected = page.evaluate("window.landun.map.selected")
        facts = dict(
            zip(
                texts(page, "#card dt"),
                texts(page, "#card dd"),
                strict=True,
            )
        )
        page.screenshot(path=str(OUTPUT / "console_card.png"))
        assert page.inner_text("#card h3") == "苏B·D3007" and selected == "LXF-07"
        assert facts["运输公司"] == "梁溪清运" and facts["车型"] == "油脂车"
        assert facts["终端号"] == "013900000007" and facts["车速"] == "20 km/h"
        assert facts["最后定位"] == "2025-06-01 20:03:00 北京时间"

        # Filter by kind: the alert list keeps only kitchen vehicles' alerts; the map's filter
        # (LiveMap.setFilter) hides the muck trucks.
        app.state.feed.alert(alert("K-1", "LX-2", LX, minute=4, type="unregistered_collection"))
        page.wait_for_selector('.alert-item[data-id="K-1"]')
        page.select_option("#filter-kind", "kitchen")
        wait_until(page, "!document.querySelector('.alert-item[data-id=\"A-LX\"]')")
        listed = ids(page, ".alert-item")
        # The vehicles the map holds (those in view), and those its filter lets through.
        held, shown = page.evaluate(
            "(() => { const m = window.landun.map; const held = [...m.vehicles.keys()];"
            " return [held, held.filter((id) => m.store.shown(id))]; })()"
        )
        page.screenshot(path=str(OUTPUT / "console_filter_kitchen.png"))
        page.click("#filter-clear")
        page.wait_for_selector('.alert-item[data-id="A-LX"]')
        # By alert type: the list keeps that type's alerts, the map the vehicles they name.
        page.select_option("#filter-type", "unregistered_collection")
        wait_until(page, "!document.querySelector('.alert-item[data-id=\"A-LX\"]')")
        by_type = ids(page, ".alert-item")
        page.evaluate("window.landun.map.focus(31.57, 120.312, 14)")  # LX-2's last fix
        wait_until(page, "window.landun.map.vehicles.has('LX-2')")
        held_t, shown_t = page.evaluate(
            "(() => { const m = window.landun.map; const held = [...m.vehicles.keys()];"
            " return [held, held.filter((id) => m.store.shown(id))]; })()"
        )
        page.click("#filter-clear")
        page.wait_for_selector('.alert-item[data-id="A-LX"]')
        # By company (the options come from the registry): 梁溪清运 has no alert here.
        page.select_option("#filter-company", "梁溪清运")
        wait_until(page, "document.querySelectorAll('.alert-item').length === 0")
        by_company = page.evaluate(
            "(() => { const m = window.landun.map;"
            " return [...m.vehicles.keys()].filter((id) => m.store.shown(id)); })()"
        )
        page.click("#filter-clear")
        page.wait_for_selector('.alert-item[data-id="A-LX"]')

        # A critical alert arrives (the feed, as the engine's consumer calls it): pop-up, tone.
        tones = page.evaluate("LandunSound.played")
        critical = alert(
            "CRIT-1",
            "LX-1",
            LX,
            minute=6,
            severity="critical",
            permit="P-LX",
            evidence={
                "rule": "loaded stop outside every known place",
                "thresholds": {"stop_s": 300.0},
                "pings": [],
                "trigger": "stop",
                "duration_s": 480,
                "nearest_place": {"fence": "site-lx", "kind": "site", "distance_m": 812.4},
            },
        )
        app.state.feed.alert(critical)
        page.wait_for_selector('#critical-popup[data-id="CRIT-1"]:not([hidden])')
        popup = page.inner_text("#critical-popup")
        played = page.evaluate("LandunSound.played") - tones
        rings = "window.landun.map.state.alerts.features.map((f) => f.properties)"
        wait_until(page, f"{rings}.some((r) => r.id === 'CRIT-1')")
        ringed = {r["id"]: r["severity"] for r in page.evaluate(rings)}
        page.screenshot(path=str(OUTPUT / "console_critical.png"))
        page.click("#critical-popup .popup-view")
        page.wait_for_selector('#detail[data-id="CRIT-1"]')
        assert page.is_hidden("#critical-popup")
        card_lines = texts(page, "#detail .evidence li")
        rule_zh = page.inner_text("#detail dl")

        # An overspeed (medium): its evidence in Chinese, no pop-up.
        app.state.feed.alert(
            alert(
                "OS-1",
                "LX-1",
                LX,
                minute=7,
                type="overspeed",
                severity="medium",
                evidence={
                    "rule": "speed above the limit on every ping for the sustain time",
                    "thresholds": {"limit_kmh": 70, "sustain_s": 30.0},
                    "pings": [],
                    "limit_kmh": 70,
                    "peak_kmh": 99.3,
                    "speed_kmh": 99.3,
                    "duration_s": 95,
                },
            )
        )
        page.click('.alert-item[data-id="OS-1"]')
        page.wait_for_selector('#detail[data-id="OS-1"]')
        overspeed_lines = texts(page, "#detail .evidence li")
        assert page.is_hidden("#critical-popup")

        # Dispatch CRIT-1 with the form: the form refuses an empty assignee before any request.
        page.click('.alert-item[data-id="CRIT-1"]')
        page.click('#detail [data-action="dispatched"]')
        page.fill("#case-assignee", "")
        page.click("#case-submit")
        refused = page.inner_text("#case-error")
        assert store.get("CRIT-1")["case"]["state"] == "open"
        page.fill("#case-assignee", "梁溪区城管执法中队")
        page.fill("#case-deadline", "2031-06-01T23:30")
        page.fill("#case-note", "请立即到场核查")
        page.screenshot(path=str(OUTPUT / "console_dispatch_form.png"))
        # The engine re-emits the alert (its end now known) while the form is being filled in:
        # the card shows the update and the form keeps what was typed.
        app.state.feed.alert(critical | {"ended_ts": BASE_MS + 16 * 60_000})
        wait_until(page, "window.landun.panel.get('CRIT-1').ended_ts !== null")
        kept = [page.input_value(f"#case-{k}") for k in ("assignee", "deadline", "note")]
        page.click("#case-submit")
        page.wait_for_selector('.alert-item[data-id="CRIT-1"] .badge.dispatched')
        dispatched = store.get("CRIT-1")["case"]

        # Handle, then close, each with a note (an empty note is refused in the page).
        page.click('#detail [data-action="handled"]')
        page.click("#case-submit")
        handle_refused = page.inner_text("#case-error")
        page.fill("#case-note", "现场已清理，车辆已扣押")
        page.click("#case-submit")
        page.wait_for_selector('.alert-item[data-id="CRIT-1"] .badge.handled')
        page.click('#detail [data-action="closed"]')
        page.fill("#case-note", "处罚决定书已送达")
        page.click("#case-submit")
        page.wait_for_selector('.alert-item[data-id="CRIT-1"] .badge.closed')
        trail = texts(page, "#detail .history li")
        wait_until(page, f"!{rings}.some((r) => r.id === 'CRIT-1')")  # a closed case: no ring

        # Dismiss A-LX with a reason from the list and free text.
        page.click('.alert-item[data-id="A-LX"]')
        page.click('#detail [data-action="dismissed"]')
        reasons = page.eval_on_selector_all("#case-reason option", "(o) => o.map((x) => x.value)")
        page.select_option("#case-reason", "duplicate")
        page.fill("#case-note", "与 CRIT-1 同一事件")
        page.click("#case-submit")
        page.wait_for_selector('.alert-item[data-id="A-LX"] .badge.dismissed')

        # K-1 dispatched with a deadline the server clock then passes: overdue in the list.
        page.click('.alert-item[data-id="K-1"]')
        page.click('#detail [data-action="dispatched"]')
        page.fill("#case-assignee", "梁溪区城管执法中队")
        soon = datetime.fromtimestamp(clock.now, BEIJING) + timedelta(minutes=30)
        page.fill("#case-deadline", soon.strftime("%Y-%m-%dT%H:%M"))
        page.click("#case-submit")
        page.wait_for_selector('.alert-item[data-id="K-1"] .badge.dispatched')
        clock.now += 3 * 3600  # the deadline passes (the session lives 8 h)
        page.click("#cases-open")
        page.fill("#cases-day", DAY)
        page.dispatch_event("#cases-day", "change")
        wait_until(page, "document.querySelector('#cases-body tr[data-id=\"K-1\"]') !== null")
        rows = {
            r: c
            for r, c in zip(
                ids(page, "#cases-body tr"),
                page.eval_on_selector_all(
                    "#cases-body tr", "(rows) => rows.map((r) => r.className)"
                ),
                strict=True,
            )
        }
        page.screenshot(path=str(OUTPUT / "console_cases.png"))
        # The list's filters, each asked of the server: only that case is listed.
        case_ids = (
            "[...document.querySelectorAll('#cases-body tr')].map((r) => r.dataset.id).join()"
        )
        page.select_option("#cases-state", "dismissed")
        wait_until(page, f"{case_ids} === 'A-LX'")
        page.select_option("#cases-state", "")
        page.check("#cases-overdue")
        wait_until(page, f"{case_ids} === 'K-1'")
        page.uncheck("#cases-overdue")
        page.select_option("#cases-type", "overspeed")
        wait_until(page, f"{case_ids} === 'OS-1'")

        # English: the same evidence and the rule in the UI's language.
        page.click('.alert-item[data-id="OS-1"]')
        page.click("#app [data-lang-toggle]")
        english_lines = texts(page, "#detail .evidence li")
        english_rule = page.inner_text("#detail dl")
        page.screenshot(path=str(OUTPUT / "console_en.png"))

    assert problems == []
    kinds = {v["id"]: v["kind"] for v in app.state.ports.vehicles.list()}
    assert shown == [v for v in held if kinds[v] == "kitchen"]
    assert len(held) > len(shown) > 0  # muck and oil trucks in view, hidden
    assert by_type == ["K-1"]
    assert shown_t == ["LX-2"] and len(held_t) > 1  # the others in view are hidden
    assert by_company and all(int(v[-2:]) % 2 == 1 for v in by_company)  # LXF-odd: 梁溪清运
    assert "K-1" in listed and "A-LX" not in listed
    assert "疑似偷倒" in popup and "苏BLX-1" in popup and "停留 8 分钟" in popup
    assert played == 1
    assert ringed == {"CRIT-1": "critical", "A-LX": "high", "K-1": "high"}  # open cases ringed
    assert card_lines[:2] == ["停留 8 分钟", "最近场所 site-lx（812 米）"]
    assert "核准证 P-LX" in card_lines
    assert "重车在所有已知场所外停留" in rule_zh  # the rule in Chinese
    assert overspeed_lines[:2] == ["车速 99.3 km/h（限速 70）", "持续 1.6 分钟"]
    assert refused == "请填写处置人或队伍" and handle_refused == "请填写说明"
    assert kept == ["梁溪区城管执法中队", "2031-06-01T23:30", "请立即到场核查"]
    assert dispatched["assignee"] == "梁溪区城管执法中队"
    assert dispatched["deadline"] == 1_938_094_200_000  # 2031-06-01T23:30+08:00
    assert dispatched["history"][-1]["note"] == "请立即到场核查"
    final = store.get("CRIT-1")["case"]
    assert [h["state"] for h in final["history"]] == ["open", "dispatched", "handled", "closed"]
    assert [h["note"] for h in final["history"][2:]] == [
        "现场已清理，车辆已扣押",
        "处罚决定书已送达",
    ]
    assert all(h["by"] == "liangxi" for h in final["history"][1:])
    assert any(
        "梁溪区城管执法中队" in line and "2031-06-01 23:30:00 北京时间" in line for line in trail
    )
    assert reasons == ["", "false_alarm", "duplicate", "authorised", "device_fault", "other"]
    dismissed = store.get("A-LX")["case"]
    assert dismissed["state"] == "dismissed" and dismissed["reason"] == "duplicate"
    assert dismissed["history"][-1]["note"] == "与 CRIT-1 同一事件"
    assert "overdue" in rows["K-1"] and "overdue" not in rows["CRIT-1"]
    assert english_lines[:2] == ["Speed 99.3 km/h (limit 70)", "for 1.6 min"]
    assert "speed above the limit on every ping for the sustain time" in english_rule


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


def js_number(value: float, digits: int) -> str:
    """A number as the page prints it (``Math.round(v * 10**d) / 10**d``, then ``String``)."""
    rounded = math.floor(value * 10**digits + 0.5) / 10**digits
    return str(int(rounded)) if rounded == int(rounded) else str(rounded)


def minutes(seconds: float) -> str:
    """A duration of a minute or more as the page prints it in Chinese."""
    m = seconds / 60
    return f"{js_number(m, 1) if m < 10 else js_number(m, 0)} 分钟"


def engine_alerts() -> dict[str, dict]:
    """Alerts the engine itself raises (tests/stream/engine scenarios), so the page is checked
    against the evidence keys the rules write, not against a copy of them."""
    from tests.stream.engine import test_muck_evidence as muck
    from tests.stream.engine.world import LAT, T1, run

    full = muck.FULL
    speeding = muck.loaded_at_site().drive(LAT, 120.28, **full)
    speeding.drive(LAT, 120.31, kmh=75, every=10, **full).drive(*T1, kmh=30, **full)
    lift = muck.loaded_at_site().drive(LAT, 120.30, **full)
    lift.drive(LAT, 120.305, lift=True, loaded="half").drive(*T1, **muck.EMPTY)
    return {
        "overspeed": run(speeding.stay(400, **full).stay(60, **muck.EMPTY).pings).of("overspeed")[
            0
        ],
        "route_deviation": run(muck.deviation(0.0060)).of("route_deviation")[0],
        "stop": run(muck.dump_stop(LAT, 120.30)).of("suspected_dumping")[0],
        "lift": run(lift.pings).of("suspected_dumping")[0],
    }


def test_engine_alerts_show_their_evidence_in_chinese(world):
    app, _clock, base = world
    alerts = engine_alerts()
    speed, deviation = alerts["overspeed"]["evidence"], alerts["route_deviation"]["evidence"]
    stop = alerts["stop"]["evidence"]
    peak, mean = (js_number(deviation[k], 0) for k in ("peak_m", "mean_m"))
    kmh, limit = js_number(speed["peak_kmh"], 1), js_number(speed["limit_kmh"], 0)
    want = {
        "overspeed": [f"车速 {kmh} km/h（限速 {limit}）"],
        "route_deviation": [f"偏离路线 {peak} 米（平均 {mean} 米）", "核准路线 C1"],
        "stop": [
            f"停留 {minutes(stop['duration_s'])}",
            f"最近场所 T2（{js_number(stop['nearest_place']['distance_m'], 0)} 米）",
        ],
        "lift": ["举升卸料（货箱抬起）"],
    }
    rules = {
        "overspeed": "持续时间内每次定位车速均超过限速",
        "route_deviation": "重车偏离核准证所有路线超过容差",
        "stop": "重车在所有已知场所外停留",
        "lift": "在消纳场和换装点之外举升货箱",
    }
    app.state.ports.vehicles.put(fleet_vehicle(0) | {"id": "M1", "plate": "苏B·M0001"})
    problems: list[str] = []
    got = {}
    with browser_page(base, "admin", problems) as page:
        wait_until(page, "document.getElementById('link').dataset.state === 'up'")
        for name, raised in alerts.items():
            app.state.feed.alert({**raised, "district": LX})
            page.click(f'.alert-item[data-id="{raised["id"]}"]')
            page.wait_for_selector(f'#detail[data-id="{raised["id"]}"]')
            got[name] = (texts(page, "#detail .evidence li"), page.inner_text("#detail dl"))
        page.screenshot(path=str(OUTPUT / "console_engine_evidence.png"))
    assert problems == []
    for name, lines in want.items():
        shown, facts = got[name]
        assert shown[: len(lines)] == lines, name
        assert rules[name] in facts, name
        assert "核准证 P-1" in shown, name  # on a permitted trip: the permit is named


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


T = "2025-06-01T21:05:00+08:00"
# Every alert type's key evidence as the page writes it in Chinese, from evidence shaped as the
# rules write it (docs/formats.md "Evidence"): (type, fence, evidence) → lines.
EVIDENCE_TABLE = [
    (
        "overspeed",
        None,
        {"limit_kmh": 70, "peak_kmh": 99.3, "speed_kmh": 99.3, "duration_s": 95},
        ["车速 99.3 km/h（限速 70）", "持续 1.6 分钟"],
    ),
    (
        "route_deviation",
        "C1",
        {"corridor": "C1", "peak_m": 412.6, "mean_m": 233.1, "duration_s": 300},
        ["偏离路线 413 米（平均 233 米）", "核准路线 C1", "持续 5 分钟"],
    ),
    (
        "suspected_dumping",
        None,
        {
            "trigger": "stop",
            "duration_s": 480,
            "nearest_place": {"fence": "T2", "distance_m": 178.4},
        },
        ["停留 8 分钟", "最近场所 T2（178 米）"],
    ),
    (
        "suspected_dumping",
        None,
        {"trigger": "lift", "duration_s": 0, "nearest_place": None},
        ["举升卸料（货箱抬起）", "5 公里内无已知场所"],
    ),
    (
        "unregistered_collection",
        None,
        {"duration_s": 600, "contracts": ["C-1"]},
        ["停留 10 分钟", "停靠点非登记产生单位"],
    ),
    (
        "unregistered_collection",
        "R1",
        {"contract": {"id": "C-XS", "vehicle": "XS-2", "company": "锡山清运"}, "duration_s": None},
        ["他人合同 C-XS（锡山清运）"],
    ),
    ("signal_lost", None, {"gap_s": 1500, "gap_m": 2400.4}, ["信号中断 25 分钟，前后位移 2400 米"]),
    ("signal_lost", None, {"gap_s": None, "gap_m": None}, ["信号中断，尚未恢复"]),
    (
        "uncovered_load",
        None,
        {"duration_s": 240, "peak_kmh": 45},
        ["未密闭行驶 4 分钟，最高 45 km/h"],
    ),
    (
        "unmatched_source",
        "site-1",
        {"load_ts": T, "deadline": "2025-06-02T01:10:00+08:00"},
        ["装载 2025-06-01 21:05:00 北京时间（site-1）", "卸载期限 2025-06-02 01:10:00 北京时间"],
    ),
    (
        "unpermitted_load",
        "site-1",
        {"reason": "permit not valid on this date", "permits_checked": ["P-1"]},
        ["原因：核准证不在有效期内", "已核查核准证：P-1"],
    ),
    (
        "unapproved_terminal",
        "T2",
        {"approved_terminals": ["T1", "W1"]},
        ["卸载地点 T2", "核准消纳点：T1、W1"],
    ),
    ("unmatched_disposal", "T1", {}, ["卸载地点 T1", "无装载记录"]),
    (
        "restricted_zone",
        "Z1",
        {
            "zone": {"id": "Z1", "name": "老城区禁区", "hours": ["07:00-09:00"]},
            "window": "07:00-09:00",
        },
        ["禁区 老城区禁区，禁行时段 07:00-09:00"],
    ),
    ("unsourced_delivery", "P1", {"last_delivery": None}, ["交付地点 P1", "上次交付 无"]),
    (
        "undelivered_collection",
        "R1",
        {"collections": [{"fence": "R1", "ts": T}, {"fence": "R2", "ts": T}], "deadline": T},
        ["已收运 2 处，交付期限 2025-06-01 21:05:00 北京时间"],
    ),
]


def test_every_alert_type_and_rule_is_written_in_chinese(world):
    """Each type the engine raises (stream.engine.config.ALERT_TYPES) has its key evidence in
    the table above; each rule text a rule writes (stream/engine/rules/*.py) has a Chinese
    translation."""
    from stream.engine.config import ALERT_TYPES

    _app, _clock, base = world
    rules_dir = Path(__file__).parents[2] / "stream" / "engine" / "rules"
    texts_ = sorted(
        {r for f in rules_dir.glob("*.py") for r in re.findall(r'rule="([^"]+)"', f.read_text())}
    )
    rows = [
        {"type": kind, "fence": fence, "permit": None, "late": False, "evidence": evidence}
        for kind, fence, evidence, _lines in EVIDENCE_TABLE
    ]
    problems: list[str] = []
    with browser_page(base, "viewer", problems) as page:
        shown = page.evaluate(
            "(rows) => rows.map((a) => LandunEvidence.lines(a, LandunI18n.t))", rows
        )
        untranslated = page.evaluate(
            "(texts) => texts.filter((r) => LandunEvidence.rule({ evidence: { rule: r } },"
            " LandunI18n.t, 'zh') === r)",
            texts_,
        )
    assert problems == []
    assert {kind for kind, *_ in EVIDENCE_TABLE} == set(ALERT_TYPES)
    assert shown == [lines for *_, lines in EVIDENCE_TABLE]
    assert len(texts_) >= 13 and untranslated == []


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
