"""`landun sim` and `landun score` through the CLI."""

from __future__ import annotations

import json

from landun.cli import main


def test_sim_writes_the_four_files_and_a_summary(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["sim", "--vehicles", "12", "--hours", "3", "--seed", "4", "--out", str(out)])
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "fences.geojson", "pings.jsonl", "registry.json", "truth.jsonl"]  # fmt: skip
    text = capsys.readouterr().out
    assert "pings" in text and "unmatched_source" in text
    registry = json.loads((out / "registry.json").read_text())
    assert len(registry["vehicles"]) == 12


def test_sim_rejects_a_start_without_offset(tmp_path, capsys):
    code = main(["sim", "--vehicles", "5", "--hours", "1", "--out", str(tmp_path),
                 "--start", "2025-06-02T18:00:00"])  # fmt: skip
    assert code == 2
    assert "offset" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_sim_at_a_high_rate_writes_the_same_pings(tmp_path):
    args = ["sim", "--vehicles", "5", "--hours", "1", "--seed", "9"]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    assert main([*args, "--out", str(tmp_path / "b"), "--rate", "1e9"]) == 0
    for name in ("pings.jsonl", "truth.jsonl"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_score_json_and_bad_lines(tmp_path, capsys):
    truth = tmp_path / "truth.jsonl"
    alerts = tmp_path / "alerts.jsonl"
    truth.write_text(json.dumps({"type": "overspeed", "vehicle": "V1", "ts": 1000,
                                 "window": [0, 2000], "note": ""}) + "\n")  # fmt: skip
    alerts.write_text(
        json.dumps({"id": "a", "type": "overspeed", "vehicle": "V1", "ts": 1500}) + "\n"
        "garbage\n"
        + json.dumps({"id": "b", "type": "overspeed", "vehicle": "V1", "ts": 9000})
        + "\n"
    )
    assert main(["score", "--truth", str(truth), "--alerts", str(alerts), "--json"]) == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out)
    assert set(result) == {"overall", "by_type"}
    assert result["overall"]["precision"] == 0.5 and result["overall"]["recall"] == 1.0
    entry = result["by_type"]["overspeed"]
    assert {"precision", "recall", "truths", "alerts", "found", "correct"} <= set(entry)
    assert "alerts.jsonl:2" in captured.err


def test_score_names_an_unreadable_file(tmp_path, capsys):
    code = main(["score", "--truth", str(tmp_path / "nope.jsonl"), "--alerts", str(tmp_path)])
    assert code == 2
    assert "nope.jsonl" in capsys.readouterr().err
