"""The console's work in real Chromium (issue 13): every role logs in and sees what it may do; a
truck found by its plate and its card opened; filters; a critical alert with its pop-up and tone;
a case dispatched with the form, handled and closed with notes, another dismissed with a reason;
the day's case list with an overdue case standing out."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from tests.api.browser import OUTPUT
from tests.api.conftest import (
    BASE_MS,
    LX,
    ROLES,
    XS,
    alert,
)
from tests.api.console.conftest import (
    BEIJING,
    DAY,
    OPEN_ACTIONS,
    browser_page,
    ids,
    texts,
    wait_until,
)

pytestmark = pytest.mark.timeout(300)


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
