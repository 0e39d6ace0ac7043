"""Scoring alerts against ground truth: exact precision and recall on hand-made files."""

from __future__ import annotations

import json

import pytest

from sim.score import (
    KNOWN_TYPES,
    AlertRow,
    TruthRow,
    read_alerts,
    read_normal,
    read_truths,
    score,
    table,
)


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
    _alert("a3", "overspeed", "V1", T.format(9)),  # second alert in V1's window: a duplicate
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
    assert (o["truths"], o["alerts"], o["found"], o["correct"]) == (2, 3, 1, 1)
    assert (o["duplicates"], o["false_alarms"]) == (1, 1)
    assert o["precision"] == pytest.approx(1 / 3) and o["recall"] == 0.5
    s = r["by_type"]["signal_lost"]
    assert (s["precision"], s["recall"]) == (0.0, 0.0)
    d = r["by_type"]["route_deviation"]
    assert (d["precision"], d["recall"], d["truths"]) == (0.0, 1.0, 0)  # no truths: recall 1
    u = r["by_type"]["unmatched_source"]
    assert (u["precision"], u["recall"], u["alerts"]) == (1.0, 1.0, 0)  # nothing either way
    assert r["overall"]["precision"] == pytest.approx(1 / 5)
    assert (r["overall"]["duplicates"], r["overall"]["false_alarms"]) == (1, 3)
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


def test_table_has_a_row_per_type_and_overall_and_names_the_duplicates():
    text = table(_score(TRUTHS, ALERTS))
    rows = text.splitlines()
    overall = next(r for r in rows if r.startswith("overall")).split()
    assert overall[-4:] == ["1", "3", "0.200", "0.333"]  # duplicates, false, precision, recall
    assert "dup" in rows[0] and rows[-1] == "duplicates: 1 (count against precision)"
    assert sum(r.split()[0] in KNOWN_TYPES for r in rows) == len(KNOWN_TYPES)


# One to one (issue 11): each row is a (type, vehicle)'s truth windows and alert times in
# minutes; the expected found, duplicates and false alarms.
ONE_TO_ONE = [
    # name, windows, alerts, (found, duplicates, false_alarms)
    ("one alert, one truth", [(0, 7)], [2], (1, 0, 0)),
    ("two alerts in one window: one duplicate", [(0, 7)], [2, 5], (1, 1, 0)),
    ("three alerts in one window", [(0, 7)], [1, 2, 3], (1, 2, 0)),
    ("one alert in two overlapping windows finds one", [(0, 7), (4, 11)], [5], (1, 0, 0)),
    # Greedy by start time would give the 5 to the first window and lose the second.
    ("the early alert goes to the early-ending window", [(0, 7), (4, 11)], [5, 6], (2, 0, 0)),
    ("a wide window must not steal the only alert of a narrow one",
     [(0, 20), (9, 11)], [10, 15], (2, 0, 0)),
    ("outside every window: a false alarm", [(0, 7)], [2, 9], (1, 0, 1)),
    ("window edges are inclusive", [(0, 7), (20, 27)], [0, 27], (2, 0, 0)),
    ("no alerts", [(0, 7)], [], (0, 0, 0)),
    ("no truths", [], [3, 4], (0, 0, 2)),
]  # fmt: skip


def _minutes(m: int) -> int:
    return 1_748_869_800_000 + m * 60_000


@pytest.mark.parametrize(
    ("windows", "times", "want"), [r[1:] for r in ONE_TO_ONE], ids=[r[0] for r in ONE_TO_ONE]
)
def test_alerts_and_truths_are_matched_one_to_one(windows, times, want):
    truths = [
        TruthRow("overspeed", "V1", _minutes(s), _minutes(s), _minutes(e)) for s, e in windows
    ]
    alerts = [AlertRow(f"a{i}", "overspeed", "V1", _minutes(m)) for i, m in enumerate(times)]
    r = score(truths, alerts)
    row, overall = r["by_type"]["overspeed"], r["overall"]
    assert (row["found"], row["duplicates"], row["false_alarms"]) == want
    assert row["correct"] == row["found"] and row["alerts"] == len(times)
    assert row["precision"] == (want[0] / len(times) if times else 1.0)
    assert overall["duplicates"] == want[1] and overall["false_alarms"] == want[2]


def test_a_matching_never_pairs_across_vehicles_or_types():
    truths = [TruthRow("overspeed", "V1", _minutes(0), _minutes(0), _minutes(7))]
    alerts = [
        AlertRow("a", "overspeed", "V2", _minutes(1)),
        AlertRow("b", "signal_lost", "V1", _minutes(1)),
    ]
    r = score(truths, alerts)
    assert r["overall"]["found"] == 0 and r["overall"]["false_alarms"] == 2


def test_normal_operation_false_alarms_per_thousand_vehicle_hours():
    normal = read_normal(
        {"vehicle_hours": 500.0, "episodes": [
            {"pattern": "gate_drift", "vehicle": "V1", "window": [_minutes(0), _minutes(30)]},
            {"pattern": "jam", "vehicle": "V2", "window": [_minutes(0), _minutes(30)]},
        ]}
    )  # fmt: skip
    truths = [TruthRow("overspeed", "V1", _minutes(50), _minutes(50), _minutes(57))]
    alerts = [
        AlertRow("a", "suspected_dumping", "V1", _minutes(10)),  # on the drift: false
        AlertRow("b", "overspeed", "V1", _minutes(52)),  # a truth: not false
        AlertRow("c", "overspeed", "V1", _minutes(53)),  # its duplicate: not a false alarm
        AlertRow("d", "signal_lost", "V3", _minutes(10)),  # false, on no episode
    ]
    n = score(truths, alerts, normal)["normal"]
    assert (n["false_alarms"], n["per_1000_vehicle_hours"]) == (2, 4.0)
    assert n["by_pattern"]["gate_drift"] == {
        "episodes": 1, "false_alarms": 1, "by_type": {"suspected_dumping": 1}
    }  # fmt: skip
    assert n["by_pattern"]["jam"]["false_alarms"] == 0
    text = table(score(truths, alerts, normal))
    assert "4.0 per 1,000 vehicle-hours" in text and "gate_drift" in text


@pytest.mark.parametrize(
    "doc",
    [[], {"episodes": []}, {"vehicle_hours": -1}, {"vehicle_hours": 1, "episodes": [{"x": 1}]}],
)
def test_a_malformed_normal_file_is_refused_with_the_problem_named(doc):
    with pytest.raises(ValueError, match="vehicle_hours|episodes|JSON object"):
        read_normal(doc)


def test_the_code_names_are_the_engines():
    from stream.codes import ALERT_TYPES
    from stream.engine.config import ALERT_TYPES as ENGINE_TYPES

    assert set(ALERT_TYPES) == set(ENGINE_TYPES) and len(ALERT_TYPES) == 13
