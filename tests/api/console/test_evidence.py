"""Every alert type's key evidence and every rule text in Chinese on the console (issue 13), for
alerts the engine itself raises and for a table of every type."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from tests.api.browser import OUTPUT
from tests.api.conftest import (
    LX,
)
from tests.api.console.conftest import browser_page, fleet_vehicle, texts, wait_until

pytestmark = pytest.mark.timeout(300)


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
    rules_dir = Path(__file__).parents[3] / "stream" / "engine" / "rules"
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
