"""One sentence in Chinese with the numbers that decide an alert: the case document's 证据摘要.

Issue 12 (the seed's 文书自动生成): an officer reads first what happened, in figures — the speed
against the limit, how far off the approved route and for how long, how long a loaded truck
stood outside every known place — before the table of every evidence field. Built from the
alert's evidence as the engine wrote it (docs/formats.md, "Evidence per type"); a field the
alert lacks is left out of the sentence rather than guessed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from stream.eventtime import iso_ts, parse_ts

LOAD_ZH = {"empty": "空车", "half": "半载", "full": "满载"}


def summary(alert: Mapping[str, Any], names: Mapping[str, Any]) -> str | None:
    """The sentence for ``alert`` (None for a type without one).

    Parameters
    ----------
    alert : dict
        The alert as the engine emits it.
    names : dict
        Fence id -> display name (the pack's fences).

    Examples
    --------
    >>> summary({"type": "overspeed", "evidence": {"limit_kmh": 60.0, "peak_kmh": 78.0,
    ...          "duration_s": 45}}, {})
    '最高车速 78.0 km/h，限速 60.0 km/h，超出 30%，持续 45 秒。'
    """
    build = _SENTENCES.get(str(alert.get("type")))
    if build is None:
        return None
    ev = alert.get("evidence") or {}
    parts = [p for p in build(ev, alert, lambda f: _place(f, names)) if p]
    return "，".join(parts) + "。" if parts else None


def _place(fence: Any, names: Mapping[str, Any]) -> str:
    return f"{names.get(str(fence)) or fence}（{fence}）" if fence else ""


def _when(value: Any) -> str:
    return "" if value is None else str(iso_ts(parse_ts(value)))


def _lasting(ev: Mapping[str, Any], key: str = "duration_s") -> str:
    return f"持续 {ev[key]} 秒" if ev.get(key) is not None else ""


def _overspeed(ev, alert, place) -> list[str]:
    peak, limit = ev.get("peak_kmh"), ev.get("limit_kmh")
    over = f"超出 {round(100 * (peak - limit) / limit)}%" if peak and limit else ""
    return [
        f"最高车速 {peak} km/h" if peak is not None else "",
        f"限速 {limit} km/h" if limit is not None else "",
        over,
        _lasting(ev),
    ]


def _deviation(ev, alert, place) -> list[str]:
    return [
        f"偏离核准路线 {place(ev.get('corridor'))}" if ev.get("corridor") else "偏离核准路线",
        f"最远 {ev['peak_m']} 米" if ev.get("peak_m") is not None else "",
        f"平均 {ev['mean_m']} 米" if ev.get("mean_m") is not None else "",
        _lasting(ev),
    ]


def _dumping(ev, alert, place) -> list[str]:
    near = ev.get("nearest_place") or {}
    load = LOAD_ZH.get(str(ev.get("loaded")), "载重状态未报告")
    how = "在已知场所外举升车厢" if ev.get("trigger") == "lift" else "在所有已知场所外停留"
    return [
        f"重车（{load}）{how}",
        _lasting(ev) if ev.get("trigger") != "lift" else "",
        f"最近已知场所 {place(near.get('fence'))} 约 {near.get('distance_m')} 米" if near else "",
    ]


def _signal(ev, alert, place) -> list[str]:
    return [
        f"失联 {ev['gap_s']} 秒" if ev.get("gap_s") is not None else "失联后未再上线",
        f"失联前后位置相距 {ev['gap_m']} 米" if ev.get("gap_m") is not None else "",
    ]


def _uncovered(ev, alert, place) -> list[str]:
    return [
        "重车行驶中车厢未密闭",
        _lasting(ev),
        f"最高车速 {ev['peak_kmh']} km/h" if ev.get("peak_kmh") is not None else "",
    ]


def _unmatched_source(ev, alert, place) -> list[str]:
    return [
        f"{_when(ev.get('load_ts'))} 在 {place(alert.get('fence'))} 装载"
        if ev.get("load_ts")
        else "",
        f"至处置时限 {_when(ev.get('deadline'))} 未在任何消纳场所卸载",
    ]


def _disposal(ev, alert, place) -> list[str]:
    approved = "、".join(place(t) for t in ev.get("approved_terminals") or ())
    return [
        f"在 {place(alert.get('fence'))} 卸载",
        f"核准消纳场所为 {approved}" if approved else "此前无装载记录",
    ]


# The engine's reasons (stream.engine.rules.manifest), in Chinese; another is shown as written.
REASON_ZH = {
    "no permit names this vehicle for this site": "无该车辆在该工地的处置核准",
    "permit not valid on this date": "处置核准在该日期无效",
    "loaded outside the permit's hours": "在核准运输时段外装载",
    "left the site outside the permit's hours": "在核准运输时段外离开工地",
}


def _unpermitted(ev, alert, place) -> list[str]:
    checked = "、".join(ev.get("permits_checked") or ()) or "无"
    reason = str(ev.get("reason") or "")
    return [
        f"在 {place(alert.get('fence'))} 装载",
        REASON_ZH.get(reason, reason),
        f"核查的处置核准：{checked}",
    ]


def _restricted(ev, alert, place) -> list[str]:
    zone = ev.get("zone") or {}
    hours = "、".join(zone.get("hours") or ()) or "全天"
    return [f"进入禁行区 {place(zone.get('id') or alert.get('fence'))}", f"禁行时段 {hours}"]


def _unregistered(ev, alert, place) -> list[str]:
    contract = ev.get("contract")
    if contract:
        return [
            f"在 {place(alert.get('fence'))} 收运",
            f"该产生单位登记在 {contract.get('company')} 的合同 {contract.get('id')} 名下（抢收）",
            _lasting(ev),
        ]
    return ["在非登记产生单位处停留收运", _lasting(ev)]


def _undelivered(ev, alert, place) -> list[str]:
    return [
        f"收运 {len(ev.get('collections') or ())} 处",
        f"至时限 {_when(ev.get('deadline'))} 未送达处理厂" if ev.get("deadline") else "",
    ]


def _unsourced(ev, alert, place) -> list[str]:
    last = ev.get("last_delivery")
    since = f"自上次送达 {_when(last)} 以来无收运记录" if last else "此前无收运记录（也未见送达）"
    return [f"在 {place(alert.get('fence'))} 送达", since]


_SENTENCES: dict[str, Callable[..., list[str]]] = {
    "overspeed": _overspeed,
    "route_deviation": _deviation,
    "suspected_dumping": _dumping,
    "signal_lost": _signal,
    "uncovered_load": _uncovered,
    "unmatched_source": _unmatched_source,
    "unmatched_disposal": _disposal,
    "unapproved_terminal": _disposal,
    "unpermitted_load": _unpermitted,
    "restricted_zone": _restricted,
    "unregistered_collection": _unregistered,
    "undelivered_collection": _undelivered,
    "unsourced_delivery": _unsourced,
}
