"""bench.engine in a tiny configuration (issue 15): stamped, and the alerts of the runs it timed
are scored on the workload it timed; a wrong alert set fails that check. Timings never asserted."""

from __future__ import annotations

import json

import orjson
import pytest

import bench.engine as bench_engine
from bench import stamp as stamping

TINY = ["--vehicles", "40", "--hours", "1", "--repeat", "2", "--no-pin", "--json"]


@pytest.fixture(scope="module")
def scenario():
    """The night window of a tiny throughput fleet and its alerts, as the bench times it."""
    sc = bench_engine.Scenario(40, 1.0, 7, bench_engine.NIGHT_START)
    _, events = bench_engine.run_engine(sc.pings, sc.context())
    return sc, bench_engine.alerts_text(events)


def test_a_tiny_run_is_stamped_and_scores_the_timed_output(capsys):
    assert bench_engine.main([*TINY, "--seeds", "101", "--quality-vehicles", "10",
                              "--quality-hours", "2", "--splits", "2"]) == 0  # fmt: skip
    report = json.loads(capsys.readouterr().out)
    assert stamping.missing(report["stamp"]) == []
    assert len(report["throughput"]) == 2
    for row in report["throughput"]:
        q = row["quality"]
        assert q["runs"] == 4  # every timed run, cold and warm, was kept
        assert q["identical"] is True
        assert q["truths"] == q["alerts"] and q["ok"] is True
    assert report["determinism"]["split_identical"] is True


def test_the_timed_quality_check_passes_the_real_alerts(scenario):
    sc, text = scenario
    got = bench_engine.timed_quality(sc, [text, text])
    assert got["alerts"] > 0 and got["ok"] is True


@pytest.mark.parametrize("tamper", ["drop an alert", "one timed run differs", "a false alert"])
def test_the_timed_quality_check_fails_on_a_wrong_alert_set(scenario, tamper):
    sc, text = scenario
    lines = text.splitlines(keepends=True)
    if tamper == "drop an alert":
        texts = [b"".join(lines[1:])] * 2
    elif tamper == "one timed run differs":
        texts = [text, b"".join(lines[:-1])]
    else:
        fake = {**orjson.loads(lines[0]), "id": "fake-1", "type": "overspeed",
                "vehicle": "NOBODY"}  # fmt: skip
        texts = [text + orjson.dumps(fake) + b"\n"] * 2
    got = bench_engine.timed_quality(sc, texts)
    assert got["ok"] is False
    if tamper == "drop an alert":
        assert got["recall"] < 1.0
    elif tamper == "one timed run differs":
        assert got["identical"] is False
    else:
        assert got["precision"] < 1.0


def test_the_bench_exits_1_when_its_timed_runs_disagree(capsys, monkeypatch):
    real, calls = bench_engine.alerts_text, []

    def unstable(events):  # as if one timed run had raised something the others did not
        calls.append(1)
        return real(events) + (b"" if len(calls) == 1 else b'{"id": "extra"}\n')

    monkeypatch.setattr(bench_engine, "alerts_text", unstable)
    assert bench_engine.main([*TINY, "--skip-quality", "--start", bench_engine.NIGHT_START]) == 1
    (row,) = json.loads(capsys.readouterr().out)["throughput"]
    assert row["quality"]["identical"] is False and row["quality"]["ok"] is False
