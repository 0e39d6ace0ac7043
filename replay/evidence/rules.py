"""The rule behind each alert type, in Chinese and English, with the thresholds it reads (issue 12).

An evidence pack's ``rule.md`` and its case document (``report.html``/``report.pdf``) state the
rule the engine applied and the values of the thresholds it used, so that an officer, a lawyer
or a court reads what was checked without the source code. The wording follows docs/domain.md's
violation table and docs/formats.md "Violation semantics"; the threshold names are fields of
``stream.engine.config.Thresholds`` (their values come from the pack's ``thresholds.json``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Rule:
    """One alert type's rule.

    Attributes
    ----------
    zh_name, en_name : str
        The type's name (docs/domain.md).
    zh, en : str
        The rule in words.
    thresholds : tuple of str
        The ``Thresholds`` fields the rule reads, in the order they are shown.
    """

    zh_name: str
    en_name: str
    zh: str
    en: str
    thresholds: tuple[str, ...]


RULES: dict[str, Rule] = {
    "unmatched_source": Rule(
        "有源无终 / 疑似偷倒",
        "load with no disposal",
        "车辆在工地装载（停留达到装卸时长）离场后，在运输时限内未到任何消纳场或换装点卸载。",
        "A load at a site (a dwell of at least the load/unload dwell) is not unloaded at any "
        "terminal or transfer point within the trip deadline after leaving the site.",
        ("dwell_ms", "slow_kmh", "trip_deadline_ms"),
    ),
    "unmatched_disposal": Rule(
        "有终无源",
        "disposal with no load",
        "车辆在消纳场或换装点卸载，但此前没有记录到装载。",
        "An unload dwell at a terminal or transfer point with no recorded load before it.",
        ("dwell_ms", "slow_kmh"),
    ),
    "unapproved_terminal": Rule(
        "未按核准地点处置",
        "unloaded at an unapproved terminal",
        "车辆在处置核准未列明的消纳场或换装点卸载。",
        "An unload at a terminal or transfer point that the trip's disposal permit does not name.",
        ("dwell_ms", "slow_kmh"),
    ),
    "unpermitted_load": Rule(
        "无证运输",
        "load without a valid permit",
        "车辆在工地装载，但没有对该车辆、该工地、该日期有效的处置核准，或离场时间不在核准的运输时段内。",
        "A load at a site with no disposal permit valid for the vehicle, the site and the date, "
        "or a load that leaves the site outside the hours of every such permit.",
        ("dwell_ms", "slow_kmh"),
    ),
    "route_deviation": Rule(
        "偏离核准路线",
        "left the approved route",
        "重车行驶中偏离处置核准的全部路线走廊超过允许距离，并持续超过规定时长（工地、消纳场内不计）。",
        "Loaded and farther than the tolerance from every corridor of the permit for longer "
        "than the sustain time (inside sites and terminals excused).",
        ("deviation_m", "deviation_ms"),
    ),
    "restricted_zone": Rule(
        "闯禁区 / 禁行时段",
        "restricted zone",
        "在禁行时段内进入对该车型禁行的区域（含两点之间穿越禁行区）。",
        "Inside a restricted zone during its hours, for a vehicle kind it restricts (including "
        "a crossing between two consecutive fixes).",
        ("crossing_gap_ms",),
    ),
    "overspeed": Rule(
        "超速",
        "overspeed",
        "车速持续高于限速（所在区域限速，否则按车型默认限速）达到规定时长。",
        "Speed above the limit (the zone's limit, else the vehicle kind's) on every fix for "
        "the sustain time.",
        ("speed_limit_kmh", "overspeed_ms"),
    ),
    "suspected_dumping": Rule(
        "异常停留 / 疑似偷倒",
        "suspected dumping",
        "重车在所有已知场所（工地、消纳场、换装点、停车场、产生单位、处理厂）之外停留达到规定时长，"
        "或在消纳场、换装点以外举升车厢；在消纳场门口排队（未举升）不计。",
        "A loaded stop of at least the suspicious-stop time outside every known place, or the "
        "tipper raised outside a terminal or transfer point; a queue at a terminal's gate with "
        "the tipper down is not.",
        ("suspicious_stop_ms", "stop_radius_m", "slow_kmh", "queue_reach_m", "gate_drift_m"),
    ),
    "signal_lost": Rule(
        "离线 / 信号屏蔽",
        "signal lost",
        "运输或收运途中超过规定时长没有实时定位；在登记场所内失去信号并在同一场所重新出现的不计。",
        "No live position for longer than the limit while a trip or round is under way; a gap "
        "that begins and ends at the same registered place is not.",
        ("signal_lost_ms", "dock_reach_m", "dock_wait_ms"),
    ),
    "uncovered_load": Rule(
        "未密闭",
        "uncovered load",
        "重车行驶中车厢密闭装置打开，持续达到规定时长。",
        "Loaded, moving and the cover open on every fix for the sustain time.",
        ("uncovered_speed_kmh", "uncovered_ms"),
    ),
    "unregistered_collection": Rule(
        "非法收运",
        "unregistered collection",
        "餐厨或油脂收运车在非登记产生单位处停留（同一地点）达到规定时长；或在仅由其他公司合同登记的"
        "产生单位收运（抢收）。",
        "A kitchen or oil vehicle stopped in one place for the dwell time outside every "
        "registered producer, plant and depot; or a collection at a producer only other "
        "companies' contracts name (poaching).",
        ("unregistered_stop_ms", "collection_radius_m", "collection_drift_m", "dwell_ms"),
    ),
    "undelivered_collection": Rule(
        "收运不匹配",
        "collection not delivered",
        "餐厨垃圾收运后，在收运时限内未送达处理厂。",
        "Kitchen waste collected and not delivered to a plant within the round deadline.",
        ("round_deadline_ms", "dwell_ms"),
    ),
    "unsourced_delivery": Rule(
        "来源不明",
        "delivery with no source",
        "餐厨或油脂车辆送达处理厂，但自上次送达以来没有记录到收运。",
        "A kitchen or oil vehicle delivers to a plant with no recorded collection since its "
        "last delivery.",
        ("dwell_ms", "slow_kmh"),
    ),
}
COMMON_THRESHOLDS = ("cooldown_ms",)  # every rule: one alert per vehicle and type per cooldown

_UNITS = (("_ms", "ms"), ("_m", "m"), ("_kmh", "km/h"))


def rule_of(alert_type: str) -> Rule:
    """The rule of an alert type; a stand-in naming the type for one this version does not know."""
    return RULES.get(
        alert_type,
        Rule(alert_type, alert_type, f"未知类型 {alert_type}", f"unknown type {alert_type}", ()),
    )


def threshold_lines(alert_type: str, thresholds: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(name, value with unit)`` of the thresholds the rule reads, durations also in minutes.

    Examples
    --------
    >>> threshold_lines("overspeed", {"speed_limit_kmh": {"muck": 60.0}, "overspeed_ms": 30000,
    ...                               "cooldown_ms": 600000})
    [('speed_limit_kmh', "{'muck': 60.0} km/h"), ('overspeed_ms', '30000 ms (30 s)'), \
('cooldown_ms', '600000 ms (10 min)')]
    """
    names = rule_of(alert_type).thresholds + COMMON_THRESHOLDS
    return [(n, _shown(n, thresholds[n])) for n in names if n in thresholds]


def _shown(name: str, value: Any) -> str:
    unit = next((u for suffix, u in _UNITS if name.endswith(suffix)), "")
    text = f"{value} {unit}".strip()
    if unit == "ms" and isinstance(value, int):
        text += f" ({value // 60_000} min)" if value % 60_000 == 0 else f" ({value / 1000:g} s)"
    return text


def rule_markdown(alert: Mapping[str, Any], thresholds: Mapping[str, Any]) -> str:
    """``rule.md``: the rule in Chinese and English, the thresholds, the alert's own evidence.

    Examples
    --------
    >>> text = rule_markdown({"type": "overspeed", "evidence": {"rule": "r", "thresholds":
    ...                       {"limit_kmh": 60.0}}}, {"overspeed_ms": 30000})
    >>> text.splitlines()[0]
    '# 超速 (overspeed)'
    >>> "- overspeed_ms: 30000 ms (30 s)" in text
    True
    """
    rule = rule_of(str(alert.get("type")))
    evidence = alert.get("evidence") or {}
    lines = [
        f"# {rule.zh_name} ({alert.get('type')})",
        "",
        "## 规则",
        "",
        rule.zh,
        "",
        f"## Rule ({rule.en_name})",
        "",
        rule.en,
        "",
        "## 阈值 / Thresholds (thresholds.json)",
        "",
    ]
    lines += [f"- {name}: {value}" for name, value in threshold_lines(alert["type"], thresholds)]
    lines += ["", "## 告警所用阈值 / Thresholds the alert states (alert.json evidence)", ""]
    lines += [f"- {k}: {v}" for k, v in (evidence.get("thresholds") or {}).items()]
    lines += ["", f"Engine rule text: {evidence.get('rule', '')}", ""]
    return "\n".join(lines)
