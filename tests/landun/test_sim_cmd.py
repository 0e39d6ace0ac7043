"""`landun sim` and `landun score` through the CLI."""

from __future__ import annotations

import json

from landun.cli import main


def test_sim_writes_the_five_files_and_a_summary(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["sim", "--vehicles", "12", "--hours", "3", "--seed", "4", "--out", str(out)])
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "fences.geojson", "normal.json", "pings.jsonl", "registry.json", "truth.jsonl"]  # fmt: skip
    text = capsys.readouterr().out
    assert "pings" in text and "unmatched_source" in text
    registry = json.loads((out / "registry.json").read_text())
    assert len(registry["vehicles"]) == 12
    normal = json.loads((out / "normal.json").read_text())
    assert 0 < normal["vehicle_hours"] <= 12 * 3 and isinstance(normal["episodes"], list)


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
    for name in ("pings.jsonl", "truth.jsonl", "normal.json"):
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
    assert (entry["duplicates"], entry["false_alarms"]) == (0, 1)
    assert "alerts.jsonl:2" in captured.err


def test_score_counts_a_second_alert_in_a_found_window_as_a_duplicate(tmp_path, capsys):
    """Issue 11: two alerts in one truth window used to both count as correct."""
    truth, alerts, normal = (tmp_path / n for n in ("t.jsonl", "a.jsonl", "normal.json"))
    truth.write_text(json.dumps({"type": "overspeed", "vehicle": "V1", "ts": 1000,
                                 "window": [0, 60_000], "note": ""}) + "\n")  # fmt: skip
    alerts.write_text("".join(
        json.dumps({"id": i, "type": "overspeed", "vehicle": "V1", "ts": ts}) + "\n"
        for i, ts in (("a", 1000), ("b", 30_000), ("c", 3_600_000))
    ))  # fmt: skip
    normal.write_text(
        json.dumps(
            {
                "vehicle_hours": 250,
                "episodes": [
                    {"pattern": "gate_queue", "vehicle": "V1", "window": [3_000_000, 4_000_000]}
                ],
            }
        )
    )
    args = ["score", "--truth", str(truth), "--alerts", str(alerts), "--normal", str(normal)]
    assert main([*args, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    o = result["overall"]
    assert (o["found"], o["correct"], o["duplicates"], o["false_alarms"]) == (1, 1, 1, 1)
    assert o["precision"] == 1 / 3
    assert result["normal"]["per_1000_vehicle_hours"] == 4.0
    assert result["normal"]["by_pattern"]["gate_queue"]["false_alarms"] == 1
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "duplicates: 1" in text and "4.0 per 1,000 vehicle-hours" in text


def test_score_refuses_a_malformed_normal_file(tmp_path, capsys):
    (tmp_path / "t").write_text("")
    (tmp_path / "n").write_text("{}")
    args = ["score", "--truth", str(tmp_path / "t"), "--alerts", str(tmp_path / "t")]
    assert main([*args, "--normal", str(tmp_path / "n")]) == 2
    assert "vehicle_hours" in capsys.readouterr().err


def test_score_names_an_unreadable_file(tmp_path, capsys):
    code = main(["score", "--truth", str(tmp_path / "nope.jsonl"), "--alerts", str(tmp_path)])
    assert code == 2
    assert "nope.jsonl" in capsys.readouterr().err
