"""`landun score` refuses a ``--truth`` file that is no truth file (issue 13).

A newcomer who passed the alerts file, an empty file or the fences as ``--truth`` got a score:
recall 1.0 over no truths, printed as if it meant something. Each case below is a file a person
could plausibly hand it; the command must say what the file is, exit 2 and print no score.
"""

from __future__ import annotations

import json

import pytest

from landun.cli import main

ALERT = {"id": "729cc34f43f37f7ef22a", "type": "overspeed", "vehicle": "V0018",
         "district": "梁溪", "severity": "medium", "ts": "2025-06-02T18:26:19+08:00",
         "ended_ts": None, "lat": 31.57719, "lng": 120.315628,
         "evidence": {"rule": "over the limit", "pings": []}}  # fmt: skip
TRUTH = {"type": "overspeed", "vehicle": "V0018", "ts": "2025-06-02T18:26:19+08:00",
         "window": ["2025-06-02T18:24:19+08:00", "2025-06-02T18:31:19+08:00"],
         "note": ""}  # fmt: skip
PING = {"vehicle": "V0018", "ts": 1748859979000, "lat": 31.57719, "lng": 120.315628,
        "speed_kmh": 72.0}  # fmt: skip
FENCES = {"type": "FeatureCollection", "features": [
    {"type": "Feature", "id": "site-1", "properties": {"kind": "site"},
     "geometry": {"type": "Point", "coordinates": [0, 0]}}]}  # fmt: skip


def lines(*objects) -> str:
    return "".join(json.dumps(o, ensure_ascii=False) + "\n" for o in objects)


REFUSED = [
    # (situation, --truth content, words the refusal must hold)
    ("the alerts file given as truth", lines(ALERT, {**ALERT, "id": "b"}), "is an alerts file"),
    ("an empty file", "", "is empty"),
    ("a file of blank lines", "\n\n  \n", "is empty"),
    ("the fences, pretty-printed", json.dumps(FENCES, indent=1), "is not a truth file"),
    ("the fences on one line", json.dumps(FENCES), "is not a truth file"),
    ("the pings file", lines(PING, {**PING, "ts": PING["ts"] + 20_000}), "is not a truth file"),
    ("truths without their windows", lines({k: v for k, v in TRUTH.items() if k != "window"}),
     "is not a truth file"),
]  # fmt: skip


@pytest.mark.parametrize(("situation", "content", "said"), REFUSED, ids=[r[0] for r in REFUSED])
def test_score_refuses_a_truth_file_that_is_not_one(tmp_path, capsys, situation, content, said):
    truth, alerts = tmp_path / "given-as-truth.jsonl", tmp_path / "alerts.jsonl"
    truth.write_text(content)
    alerts.write_text(lines(ALERT))
    code = main(["score", "--truth", str(truth), "--alerts", str(alerts), "--json"])
    out, err = capsys.readouterr()
    assert code == 2, situation
    assert out == ""  # no score, not even an empty one
    assert f"landun score: {truth} {said}" in err
    assert "--truth" in err  # says what the option takes


def test_a_truth_file_with_one_bad_line_is_still_scored(tmp_path, capsys):
    """The refusal is for files with no truth at all: a real truth file with a damaged line is
    scored, the line reported and skipped (as before issue 13)."""
    truth, alerts = tmp_path / "truth.jsonl", tmp_path / "alerts.jsonl"
    truth.write_text(lines(TRUTH) + "garbage\n")
    alerts.write_text(lines(ALERT))
    assert main(["score", "--truth", str(truth), "--alerts", str(alerts), "--json"]) == 0
    out, err = capsys.readouterr()
    result = json.loads(out)
    assert (result["overall"]["truths"], result["overall"]["found"]) == (1, 1)
    assert f"{truth}:2" in err


def test_score_refuses_the_truth_given_as_alerts(tmp_path, capsys):
    """The truth file twice (``--alerts truth.jsonl``) read its lines as alerts without ids and
    scored a perfect 1.0."""
    truth = tmp_path / "truth.jsonl"
    truth.write_text(lines(TRUTH, {**TRUTH, "vehicle": "V0019"}))
    code = main(["score", "--truth", str(truth), "--alerts", str(truth), "--json"])
    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    assert f"landun score: {truth} is a truth file" in err and "--alerts" in err


def test_an_empty_alerts_file_is_scored(tmp_path, capsys):
    """No alerts is a result (the engine raised nothing): recall 0, no refusal."""
    truth, alerts = tmp_path / "truth.jsonl", tmp_path / "alerts.jsonl"
    truth.write_text(lines(TRUTH))
    alerts.write_text("")
    assert main(["score", "--truth", str(truth), "--alerts", str(alerts), "--json"]) == 0
    overall = json.loads(capsys.readouterr().out)["overall"]
    assert (overall["truths"], overall["alerts"], overall["recall"]) == (1, 0, 0.0)
