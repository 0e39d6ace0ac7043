"""bench.ws in a tiny configuration (issue 15): stamped, a light phase as the baseline, the load
generator outside the API, and every due item counted — delivered, late or missing (+inf).
Timings are never asserted."""

from __future__ import annotations

import json
import math

import pytest

import bench.ws as bench_ws
from bench import stamp as stamping
from bench.ws_account import alert_latencies, due_positions, position_latencies, summary

TINY = [
    "--vehicles", "200", "--period", "2", "--map-clients", "12", "--alert-clients", "2",
    "--seconds", "2", "--alert-seconds", "1", "--alert-rate", "100", "--warmup", "1",
    "--probe-every", "3", "--deadline-ms", "3000",
]  # fmt: skip


def run(tmp_path, capsys, code=0):
    out = tmp_path / "ws.json"
    assert bench_ws.main([*TINY, "--out", str(out)]) == code
    capsys.readouterr()
    return json.loads(out.read_text())


def test_a_tiny_run_is_stamped_and_counts_everything_due(tmp_path, capsys):
    report = run(tmp_path, capsys)
    assert stamping.missing(report["stamp"]) == []
    assert [p["phase"] for p in report["phases"]] == ["light", "full"]
    for phase in report["phases"]:
        pos, alerts = phase["positions"], phase["alerts"]
        assert pos["due"] > 0 and pos["due"] == pos["delivered"] + pos["missing"]
        assert alerts["due"] == alerts["alert_clients"] * alerts["alerts_produced"] > 0
        assert pos["missing_as"] == alerts["missing_as"] == "+inf"
        # The generator is a process of its own: its CPU is reported, not billed to the API.
        assert pos["generator_cpu_s"] > 0 and "api_cores" in pos and "api_intake_cores" in pos
    assert report["complete"] is True


def test_a_lost_alert_makes_the_run_incomplete(tmp_path, capsys, monkeypatch):
    real = bench_ws.alert_client

    async def forgetful(base, token, prefix, count, stop, received):
        reconnects = await real(base, token, prefix, count, stop, received)
        received.pop(min(received), None)  # one alert this client never saw
        return reconnects

    monkeypatch.setattr(bench_ws, "alert_client", forgetful)
    report = run(tmp_path, capsys, code=1)
    for phase in report["phases"]:
        alerts = phase["alerts"]
        assert alerts["missing"] == alerts["alert_clients"] and alerts["complete"] is False
    assert report["complete"] is False


BOX = (120.0, 31.0, 121.0, 32.0)


def pos(vehicle, ts, district="梁溪", lat=31.5, lng=120.5):
    return {"vehicle": vehicle, "ts": ts, "district": district, "lat": lat, "lng": lng}


def test_only_positions_of_the_clients_district_and_viewport_are_due():
    produced = [pos("V1", 1), pos("V2", 1, district="锡山"), pos("V3", 1, lng=122.0)]
    assert due_positions(produced, "梁溪", BOX) == [("V1", 1)]


@pytest.mark.parametrize(
    "receipts, expected",
    [
        ([("V1", 1000, 1040.0)], [40.0]),  # the fix itself
        ([("V1", 3000, 3010.0)], [2010.0]),  # coalesced: a newer fix stands for it, later
        ([("V1", 500, 900.0)], [math.inf]),  # only an older fix arrived: missing
        ([("V2", 1000, 1010.0)], [math.inf]),  # another vehicle's: missing
        ([], [math.inf]),
    ],
)
def test_a_due_position_is_covered_by_its_fix_or_a_newer_one(receipts, expected):
    assert position_latencies([("V1", 1000)], receipts) == expected


def test_missing_items_rank_as_infinite_and_late_ones_are_counted():
    got = summary([10.0, 20.0, 1500.0, math.inf], deadline_ms=1000.0)
    assert (got["due"], got["delivered"], got["late"], got["missing"]) == (4, 3, 1, 1)
    assert got["p50_ms"] == 1500.0 and got["p99_ms"] == got["max_ms"] == "+inf"
    assert got["complete"] is False
    assert summary([10.0, 20.0], 1000.0)["complete"] is True


@pytest.mark.parametrize(
    "received, missing, extra",
    [
        ({"B1": 5.0, "B2": 6.0}, 0, 0),
        ({"B1": 5.0}, 1, 0),
        ({"B1": 5.0, "B2": 6.0, "X9": 7.0}, 0, 1),  # an alert never produced
    ],
)
def test_a_wrong_alert_set_is_not_complete(received, missing, extra):
    produced = {"B1": 1.0, "B2": 2.0}
    latencies = alert_latencies(produced, received)
    got = summary(latencies, 1000.0, extra=sum(1 for i in received if i not in produced))
    assert (got["missing"], got["extra"]) == (missing, extra)
    assert got["complete"] is (missing == 0 and extra == 0)
