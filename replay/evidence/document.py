"""The case document of an evidence pack, in Chinese: what both reports print (issue 12).

The seed's 文书自动生成 (documents generated automatically): one alert's facts as a case file an
officer can sign and hand over — who (plate, company, vehicle), what (the violation type in
Chinese, the rule and its thresholds), when (Beijing time), where (district, place, WGS-84
position), the numbers the rule judged (speed against the limit, the stop's length, metres off
the corridor, the permit), the case's audit trail (立案 → 派遣 → 处置 → 结案), and how to check it
(the SHA-256 of the pings, the command that re-runs them). Both renderers (``report.py``,
``pdf.py``) print the same :class:`Document`, so the two never disagree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from replay.evidence.mapimage import KIND_ZH as PLACE_ZH
from replay.evidence.rules import rule_of, threshold_lines
from replay.evidence.summary import summary
from stream.eventtime import iso_ts, parse_ts

SEVERITY_ZH = {"low": "低", "medium": "中", "high": "高", "critical": "严重"}
KIND_ZH = {"muck": "渣土运输车", "kitchen": "餐厨垃圾收运车", "oil": "废弃油脂收运车"}
CASE_ZH = {
    "open": "立案",
    "dispatched": "派遣",
    "handled": "处置",
    "closed": "结案",
    "dismissed": "不予立案",
}
# Evidence keys as an officer reads them (docs/formats.md "Evidence per type").
EVIDENCE_ZH = {
    "limit_kmh": "限速 (km/h)",
    "peak_kmh": "最高车速 (km/h)",
    "duration_s": "持续时长 (秒)",
    "corridor": "最近核准路线",
    "corridors": "核准路线",
    "peak_m": "偏离路线最大距离 (米)",
    "mean_m": "偏离路线平均距离 (米)",
    "trigger": "触发方式 (stop 停留 / lift 举升)",
    "lift": "车厢举升",
    "loaded": "载重状态",
    "nearest_place": "最近已知场所",
    "gap_s": "失联时长 (秒)",
    "gap_m": "失联前后距离 (米)",
    "near_places": "附近登记场所",
    "load_ts": "装载时间",
    "deadline": "处置时限",
    "departed": "离场时间",
    "reason": "原因",
    "permits_checked": "核查的处置核准",
    "approved_terminals": "核准的消纳场所",
    "zone": "禁行区",
    "window": "禁行时段",
    "vehicle_kind": "车辆类型",
    "crossed": "两点间穿越",
    "contract": "涉及合同 (抢收)",
    "contracts": "本车合同",
    "collections": "收运记录",
    "producers": "产生单位",
    "last_delivery": "上次送达时间",
    "resolved_by": "补传数据核销",
}
_SKIPPED = {"rule", "thresholds", "pings", "peak", "speed_kmh", "ended_by"}


@dataclass(slots=True)
class Document:
    """The case document: a title, sections of ``(label, value)`` rows and two tables."""

    title: str
    subtitle: str
    sections: list[tuple[str, list[tuple[str, str]]]] = field(default_factory=list)
    pings: list[tuple[str, str, str, str]] = field(default_factory=list)  # seq, time, lat, lng
    audit: list[tuple[str, str, str, str]] | None = None  # state, by, at, note; None: absent
    audit_note: str = ""


def case_document(
    alert: Mapping[str, Any],
    registry: Mapping[str, Sequence[Mapping[str, Any]]],
    features: Sequence[Mapping[str, Any]],
    thresholds: Mapping[str, Any],
    audit: Mapping[str, Any],
    pack: Mapping[str, Any],
) -> Document:
    """The document of one alert.

    Parameters
    ----------
    alert : dict
        The alert's final version.
    registry, features
        The pack's reference data (the vehicle, its permits and contracts; the fences).
    thresholds : dict
        The pack's ``thresholds.json``.
    audit : dict
        The pack's ``audit.json`` (``{"available": bool, "case": {...} | None, "note"}``).
    pack : dict
        ``pings_sha256``, ``pings`` (count), ``from``, ``to`` (ISO), ``built_at`` (ISO),
        ``reproduce`` (the command line), ``alert_versions`` (count), ``near`` (the nearest
        registered place to the alert's point: ``(fence, kind, metres)``, or None).
    """
    rule = rule_of(str(alert.get("type")))
    names = {str(f.get("id")): (f.get("properties") or {}).get("name") for f in features}
    vehicle = _by_id(registry.get("vehicles"), alert.get("vehicle")) or {}
    doc = Document(
        title="无锡市城市管理局 蓝盾行动 违规告警案件证据材料",
        subtitle=f"{rule.zh_name}（{alert.get('type')}） 告警编号 {alert.get('id')}",
    )
    doc.sections.append(("一、当事车辆", _vehicle_rows(alert, vehicle)))
    doc.sections.append(("二、违规事实", _fact_rows(alert, rule, names, pack.get("near"))))
    brief = summary(alert, names)
    rows = _evidence_rows(alert.get("evidence") or {}, names)
    doc.sections.append(("三、证据数值", ([("证据摘要", brief)] if brief else []) + rows))
    doc.sections.append(("四、相关许可", _permit_rows(alert, registry, names)))
    doc.sections.append(("五、判定规则与阈值", _rule_rows(alert, rule, thresholds)))
    doc.sections.append(("六、数据完整性与复核", _pack_rows(pack)))
    doc.pings = [
        (str(p.get("seq", "")), _time(p.get("ts")), _num(p.get("lat")), _num(p.get("lng")))
        for p in (alert.get("evidence") or {}).get("pings") or ()
    ]
    case = audit.get("case") if audit.get("available") else None
    if case is not None:
        doc.audit = [
            (CASE_ZH.get(e.get("state"), str(e.get("state"))), str(e.get("by", "")),
             str(e.get("at", "")), str(e.get("note") or ""))
            for e in case.get("history") or ()
        ]  # fmt: skip
    doc.audit_note = str(audit.get("note") or "")
    return doc


def _vehicle_rows(alert: Mapping[str, Any], vehicle: Mapping[str, Any]) -> list[tuple[str, str]]:
    return [
        ("车牌号码", str(vehicle.get("plate") or "（未登记）")),
        ("车辆编号", str(alert.get("vehicle"))),
        ("所属公司", str(vehicle.get("company") or "（未登记）")),
        ("车辆类型", KIND_ZH.get(str(vehicle.get("kind")), str(vehicle.get("kind") or ""))),
        ("登记辖区", str(vehicle.get("district") or "")),
        ("终端号码", str(vehicle.get("terminal_phone") or "")),
    ]


def _fact_rows(
    alert: Mapping[str, Any], rule, names: Mapping[str, Any], near: Any
) -> list[tuple[str, str]]:
    rows = [
        ("违规类型", f"{rule.zh_name}（{alert.get('type')}）"),
        ("严重程度", SEVERITY_ZH.get(str(alert.get("severity")), str(alert.get("severity")))),
        ("发生时间（北京时间）", _time(alert.get("ts"))),
        ("结束时间（北京时间）", _time(alert.get("ended_ts")) or "（未结束或不适用）"),
        ("发生辖区", str(alert.get("district") or "")),
        ("发生地点（WGS-84）", f"北纬 {_num(alert.get('lat'))}，东经 {_num(alert.get('lng'))}"),
    ]
    if near is not None:  # where, in words: the nearest registered place
        fence, kind, metres = near
        where = "位于其内" if metres == 0 else f"距其边界约 {metres:.0f} 米"
        rows.append(("附近场所", f"{_named(fence, names)}（{PLACE_ZH.get(kind, kind)}），{where}"))
    if alert.get("fence"):
        rows.append(("相关场所/区域", _named(alert["fence"], names)))
    if alert.get("trip"):
        rows.append(("电子联单/收运轮次", str(alert["trip"])))
    rows.append(("补传数据发现", "是" if alert.get("late") else "否"))
    return rows


def _evidence_rows(evidence: Mapping[str, Any], names: Mapping[str, Any]) -> list[tuple[str, str]]:
    rows = []
    for key, value in evidence.items():
        if key in _SKIPPED:
            continue
        rows.append((EVIDENCE_ZH.get(key, key), _value(key, value, names)))
    return rows


def _permit_rows(
    alert: Mapping[str, Any], registry: Mapping[str, Any], names: Mapping[str, Any]
) -> list[tuple[str, str]]:
    permit = _by_id(registry.get("permits"), alert.get("permit"))
    if permit is None:
        mine = [p for p in registry.get("permits") or () if alert.get("vehicle") in p["vehicles"]]
        held = "、".join(str(p["id"]) for p in mine) or "无"
        rows = [("本次告警关联的处置核准", "无"), ("车辆持有的处置核准", held)]
    else:
        rows = [
            ("处置核准编号", str(permit["id"])),
            ("核准工地", _named(permit.get("site"), names)),
            ("核准消纳场所", "、".join(_named(t, names) for t in permit.get("terminals") or ())),
            ("核准路线", "、".join(_named(c, names) for c in permit.get("corridors") or ())),
            ("有效期", f"{permit.get('valid_from')} 至 {permit.get('valid_to')}"),
            ("运输时段", "、".join(permit.get("hours") or ()) or "不限"),
        ]
    contracts = [
        c for c in registry.get("contracts") or () if c.get("vehicle") == alert.get("vehicle")
    ]
    if contracts:
        rows.append(("收运合同", "、".join(str(c["id"]) for c in contracts)))
    return rows


def _rule_rows(
    alert: Mapping[str, Any], rule, thresholds: Mapping[str, Any]
) -> list[tuple[str, str]]:
    rows = [("规则", rule.zh), ("Rule", rule.en)]
    rows += threshold_lines(str(alert.get("type")), thresholds)
    return rows


def _pack_rows(pack: Mapping[str, Any]) -> list[tuple[str, str]]:
    return [
        ("原始定位数据 pings.jsonl SHA-256", str(pack.get("pings_sha256"))),
        ("定位记录条数", str(pack.get("pings"))),
        ("数据时间范围", f"{pack.get('from')} 至 {pack.get('to')}"),
        ("告警版本数", str(pack.get("alert_versions"))),
        ("复核命令（在证据包目录内执行）", str(pack.get("reproduce"))),
        ("生成时间", str(pack.get("built_at"))),
    ]


def _by_id(entries: Sequence[Mapping[str, Any]] | None, ident: Any) -> Mapping[str, Any] | None:
    return next((e for e in entries or () if e.get("id") == ident), None)


def _named(fence: Any, names: Mapping[str, Any]) -> str:
    name = names.get(str(fence))
    return f"{name}（{fence}）" if name else str(fence)


def _time(value: Any) -> str:
    return "" if value is None else str(iso_ts(parse_ts(value)))


def _num(value: Any) -> str:
    return "" if value is None else f"{float(value):.6f}"


def _value(key: str, value: Any, names: Mapping[str, Any]) -> str:
    if value is None:
        return "无"
    if isinstance(value, bool):
        return "是" if value else "否"
    if key == "loaded":
        return {"empty": "空车", "half": "半载", "full": "满载"}.get(str(value), str(value))
    if key in ("corridor", "fence") or (isinstance(value, str) and value in names):
        return _named(value, names)
    if isinstance(value, Mapping):
        if "fence" in value and "distance_m" in value:  # nearest_place
            kind = PLACE_ZH.get(str(value.get("kind")), str(value.get("kind")))
            return f"{_named(value['fence'], names)}，{kind}，{value['distance_m']} 米"
        return "，".join(f"{k}: {_value(k, v, names)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return "、".join(_value(key, v, names) for v in value) or "无"
    return str(value)
