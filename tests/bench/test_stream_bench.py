"""bench.stream in a tiny configuration against the real broker (issue 15): the report is
stamped, has its same-run baseline, a durable clock and a correctness check, and that check
fails when the worker's alerts are wrong. Timings are never asserted."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

import bench.stream as bench_stream
from bench import stamp as stamping
from bench.stream_oracle import compare_alerts, read_alert_lines
from tests.stream.kafka.conftest import bootstrap  # noqa: F401 - the fixture: Kafka or fail

TINY = ["--vehicles", "20", "--hours", "1", "--seed", "5", "--partitions", "4", "--rounds", "1"]


def run(tmp_path, *extra):
    out = tmp_path / "report.json"
    code = bench_stream.main([*TINY, "--work", str(tmp_path), "--out", str(out), *extra])
    return code, json.loads(out.read_text())


def test_a_tiny_run_is_stamped_baselined_durable_and_correct(bootstrap, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setenv("LANDUN_KAFKA_BOOTSTRAP", bootstrap)
    code, report = run(tmp_path, "--rate", "500", "--seconds", "4")
    assert code == 0
    assert stamping.missing(report["stamp"]) == []
    t = report["throughput"]
    (base,) = t["baseline"]
    (worker,) = t["workers"]
    assert base["pings"] == worker["pings"] > 0 and base["wall_s"] > 0
    assert worker["durable"] is True and worker["durable_s"] > 0
    assert worker["counter_s"] is not None  # the old clock, reported beside the durable one
    check = worker["correct"]
    assert check["equal"] is True and check["expected"] == check["got"] > 0
    lat = report["latency"]
    assert lat["correct"]["equal"] is True and lat["durable"] is True
    assert lat["expected"] == lat["delivered"] + lat["missing"] + lat["at_end"]
    assert lat["missing_as"] == "+inf"
    assert report["correct"] is True


def test_the_run_fails_when_the_worker_alerts_differ(bootstrap, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setenv("LANDUN_KAFKA_BOOTSTRAP", bootstrap)
    real = bench_stream.final_alerts

    def one_lost(*args):
        alerts = real(*args)
        assert alerts, "the tiny fleet should raise alerts"
        alerts.pop(sorted(alerts)[0])
        return alerts

    monkeypatch.setattr(bench_stream, "final_alerts", one_lost)
    code, report = run(tmp_path, "--skip-latency")
    assert code == 1 and report["correct"] is False
    check = report["throughput"]["workers"][0]["correct"]
    assert (check["equal"], check["missing"], check["extra"]) == (False, 1, 0)


@pytest.mark.parametrize(
    "tamper, field",
    [
        ("drop one", "missing"),
        ("add one", "extra"),
        ("change a field", "different"),
    ],
)
def test_compare_alerts_catches_every_kind_of_wrong_set(tmp_path, tamper, field):
    oracle = {
        "A1": {"id": "A1", "type": "overspeed", "ts": "2025-06-02T21:00:00+08:00", "v": 99.3},
        "A2": {"id": "A2", "type": "signal_lost", "ts": "2025-06-02T22:00:00+08:00"},
    }
    path = tmp_path / "alerts.jsonl"
    path.write_text("".join(json.dumps(a) + "\n" for a in oracle.values()))
    got = read_alert_lines(path)
    assert compare_alerts(oracle, got)["equal"] is True
    if tamper == "drop one":
        del got["A2"]
    elif tamper == "add one":
        got["A3"] = {"id": "A3", "type": "overspeed"}
    else:
        got["A1"] = {**got["A1"], "v": 70.0}
    check = compare_alerts(oracle, got)
    assert check["equal"] is False and check[field] == 1
    assert sum(check[k] for k in ("missing", "extra", "different")) == 1


def test_stream_latency_counts_missing_alerts_as_infinite_and_separates_the_end():
    expected = {f"A{i}": {} for i in range(4)}
    sent_at = {(0, 10): 100.0, (1, 5): 100.0}
    first = {
        "A0": (100_050, "0:10-12"),  # 50 ms
        "A1": (100_900, "1:5-5"),  # 900 ms: late at a 500 ms deadline
        "A2": (101_000, "0:40-40"),  # the end-of-input record: no send time
    }  # A3 never arrived
    report = bench_stream.alert_latencies(expected, first, sent_at, 500.0)
    assert (report["delivered"], report["late"], report["missing"], report["at_end"]) == (
        2, 1, 1, 1,
    )  # fmt: skip
    assert report["p50_ms"] == 900.0 and report["p99_ms"] == "+inf"
    assert not math.isinf(report["deadline_ms"])


def test_a_worker_that_exits_stops_the_bench_at_once(tmp_path):
    from bench.stream_kafka import Workers

    workers = Workers.__new__(Workers)  # no Kafka: only the process bookkeeping is under test
    log = tmp_path / "worker.log"
    dead = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    dead.wait(30)
    workers.procs, workers.logs = [dead], [log]
    with pytest.raises(RuntimeError, match=r"exited with 3; see .*worker\.log"):
        workers.check_alive()
