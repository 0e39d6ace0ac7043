"""The case document's one-sentence summary states each alert's deciding numbers (issue 12;
replay.evidence.summary), checked on every alert a simulated night raises."""

from __future__ import annotations

import json

import pytest

from replay.evidence.summary import REASON_ZH, summary
from stream.engine.config import ALERT_TYPES
from stream.eventtime import iso_ts, parse_ts


def at(value) -> str:
    return iso_ts(parse_ts(value))


def near(e) -> list[str]:
    place = e.get("nearest_place")
    return [f"约 {place['distance_m']} 米"] if place else []


# alert type -> the fragments its sentence must hold, from the alert itself
EXPECTED = {
    "overspeed": lambda a, e: [f"最高车速 {e['peak_kmh']} km/h", f"限速 {e['limit_kmh']} km/h",
                               f"持续 {e['duration_s']} 秒"],
    "route_deviation": lambda a, e: [e["corridor"], f"最远 {e['peak_m']} 米",
                                     f"平均 {e['mean_m']} 米", f"持续 {e['duration_s']} 秒"],
    "suspected_dumping": lambda a, e: near(e) + (["举升车厢"] if e["trigger"] == "lift"
                                                 else [f"停留，持续 {e['duration_s']} 秒"]),
    "signal_lost": lambda a, e: [f"失联 {e['gap_s']} 秒"] if e.get("gap_s") else ["未再上线"],
    "uncovered_load": lambda a, e: ["未密闭", f"持续 {e['duration_s']} 秒"],
    "unmatched_source": lambda a, e: [at(e["load_ts"]), a["fence"], at(e["deadline"])],
    "unmatched_disposal": lambda a, e: [a["fence"], "此前无装载记录"],
    "unapproved_terminal": lambda a, e: [a["fence"], *e["approved_terminals"]],
    "unpermitted_load": lambda a, e: [a["fence"], REASON_ZH[e["reason"]], *e["permits_checked"]],
    "restricted_zone": lambda a, e: [e["zone"]["name"]],
    "unregistered_collection": lambda a, e: (["抢收", e["contract"]["company"]]
                                             if e.get("contract") else ["非登记"]),
    "undelivered_collection": lambda a, e: [f"收运 {len(e['collections'])} 处", at(e["deadline"])],
    "unsourced_delivery": lambda a, e: [a["fence"], "无收运记录"],
}  # fmt: skip


def test_every_type_has_a_sentence():
    assert set(EXPECTED) == set(ALERT_TYPES)


@pytest.mark.parametrize("kind", ALERT_TYPES)
def test_the_sentence_holds_the_deciding_numbers(night, kind):
    archive, alerts = night
    fences = json.loads((archive.parent / "night" / "fences.geojson").read_text())["features"]
    names = {f["id"]: f["properties"]["name"] for f in fences}
    found = [a for a in alerts.values() if a["type"] == kind]
    assert found, f"the night raised no {kind}"
    for alert in found:
        text = summary(alert, names)
        for fragment in EXPECTED[kind](alert, alert["evidence"]):
            assert str(fragment) in text, (alert["id"], fragment, text)
