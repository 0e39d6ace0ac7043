"""Scoring alerts against ground truth: exact precision and recall on hand-made files."""

from __future__ import annotations

import json

import pytest

from sim.score import KNOWN_TYPES, read_alerts, read_truths, score, table


def _truth(kind, vehicle, ts, lo, hi):
    return json.dumps({"type": kind, "vehicle": vehicle, "ts": ts, "window": [lo, hi], "note": ""})


def _alert(aid, kind, vehicle, ts):
    return json.dumps({"id": aid, "type": kind, "vehicle": vehicle, "ts": ts})


T = "2025-06-02T21:{:02d}:00+08:00"
TRUTHS = [
    _truth("overspeed", "V1", T.format(10), T.format(8), T.format(15)),
    _truth("overspeed", "V2", T.format(20), T.format(18), T.format(25)),
    _truth("signal_lost", "V1", T.format(30), T.format(28), T.format(35)),
]
ALERTS = [
    _alert("a1", "overspeed", "V1", T.format(15)),  # on the window's end: found, correct
    _alert("a2", "overspeed", "V2", T.format(26)),  # a minute too late: wrong, V2 missed
    _alert("a3", "overspeed", "V1", T.format(9)),  # second alert in V1's window: correct
    _alert("a4", "signal_lost", "V2", T.format(30)),  # right time, wrong vehicle
    _alert("a5", "route_deviation", "V1", T.format(40)),  # a type with no truth at all
]


def _score(truths, alerts):
    t, tp = read_truths(truths)
    a, ap = read_alerts(alerts)
    assert tp == [] and ap == []
    return score(t, a)


def test_exact_precision_and_recall_per_type_and_overall():
    r = _score(TRUTHS, ALERTS)
    o = r["by_type"]["overspeed"]
    assert (o["truths"], o["alerts"], o["found"], o["correct"]) == (2, 3, 1, 2)
    assert o["precision"] == pytest.approx(2 / 3) and o["recall"] == 0.5
    s = r["by_type"]["signal_lost"]
    assert (s["precision"], s["recall"]) == (0.0, 0.0)
    d = r["by_type"]["route_deviation"]
    assert (d["precision"], d["recall"], d["truths"]) == (0.0, 1.0, 0)  # no truths: recall 1
    u = r["by_type"]["unmatched_source"]
    assert (u["precision"], u["recall"], u["alerts"]) == (1.0, 1.0, 0)  # nothing either way
    assert r["overall"]["precision"] == pytest.approx(2 / 5)
    assert r["overall"]["recall"] == pytest.approx(1 / 3)
    assert set(r["by_type"]) == set(KNOWN_TYPES)


def test_epoch_millisecond_times_score_like_iso():
    ms = 1748869800000  # 2025-06-02T21:10:00+08:00
    truths = [json.dumps({"type": "overspeed", "vehicle": "V1", "ts": ms,
                          "window": [ms - 60_000, ms + 60_000]})]  # fmt: skip
    r = _score(truths, [_alert("x", "overspeed", "V1", T.format(11))])
    assert r["overall"] == {**r["overall"], "precision": 1.0, "recall": 1.0}
    r = _score(truths, [_alert("x", "overspeed", "V1", ms + 60_001)])
    assert r["overall"]["precision"] == 0.0


def test_last_line_of_an_alert_id_wins():
    early = _alert("same", "overspeed", "V2", T.format(5))
    final = _alert("same", "overspeed", "V2", T.format(20))
    r = _score(TRUTHS[1:2], [early, final])
    assert r["by_type"]["overspeed"]["alerts"] == 1 and r["overall"]["recall"] == 1.0


def test_bad_lines_are_reported_with_line_numbers_and_skipped():
    truths, problems = read_truths(
        [TRUTHS[0], "{not json", json.dumps({"type": "overspeed", "vehicle": "V1"}), "[1, 2]",
         _truth("overspeed", "V1", T.format(1), T.format(5), T.format(2)), ""],
        "truth.jsonl",
    )  # fmt: skip
    assert len(truths) == 1
    assert [p.split(":")[1] for p in problems] == ["2", "3", "4", "5"]
    assert "window" in problems[1] and "end before start" in problems[3]
    alerts, problems = read_alerts(
        [ALERTS[0], json.dumps({"id": "b", "type": "overspeed", "vehicle": "V1", "ts": "soon"})],
        "alerts.jsonl",
    )
    assert len(alerts) == 1 and problems[0].startswith("alerts.jsonl:2: ts")


def test_no_alerts_and_no_truths_score_one():
    r = score([], [])
    assert r["overall"]["precision"] == 1.0 and r["overall"]["recall"] == 1.0


def test_table_has_a_row_per_type_and_overall():
    text = table(_score(TRUTHS, ALERTS))
    rows = text.splitlines()
    assert rows[-1].split()[0] == "overall" and rows[-1].split()[-2:] == ["0.400", "0.333"]
    assert sum(r.split()[0] in KNOWN_TYPES for r in rows) == len(KNOWN_TYPES)


def test_the_code_names_are_the_engines():
    from stream.codes import ALERT_TYPES
    from stream.engine.config import ALERT_TYPES as ENGINE_TYPES

    assert set(ALERT_TYPES) == set(ENGINE_TYPES) and len(ALERT_TYPES) == 13
