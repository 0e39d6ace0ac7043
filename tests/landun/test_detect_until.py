"""`landun detect --until` (issue 11): one truck's lines replayed alone over the fleet run's time
range give the truck's alerts and trips of the fleet run; the summary prints that range's end."""

from __future__ import annotations

import json
import re

import pytest

from tests.landun.test_detect_cmd import detect, files, ping_lines, read, write_pings  # noqa: F401
from tests.stream.engine.test_alerts import FULL, loaded_at_site
from tests.stream.engine.world import LAT, parked


def gone_dark_after_loading():
    """M1 loads at S1 and is never heard of again; M2 idles in the depot all night."""
    return loaded_at_site().drive(LAT, 120.29, **FULL).pings


def test_one_truck_replayed_with_until_says_what_the_fleet_run_said(files, capsys):  # noqa: F811
    tmp, fences, registry = files
    truck = gone_dark_after_loading()
    fleet = sorted([*truck, *parked("M2", "2025-06-01 20:50", hours=14).pings], key=lambda p: p.ts)
    write_pings(tmp / "fleet.jsonl", ping_lines(fleet))
    assert detect(tmp, fences, registry, tmp / "fleet.jsonl") == 0
    until = re.search(r"^until: \S+ \((\d+)\)$", capsys.readouterr().err, re.M).group(1)
    fleet_alerts = [a for a in read(tmp / "alerts.jsonl") if a["vehicle"] == "M1"]
    fleet_trips = [t for t in read(tmp / "trips.jsonl") if t["vehicle"] == "M1"]
    assert {a["type"] for a in fleet_alerts} >= {"unmatched_source", "signal_lost"}

    write_pings(tmp / "m1.jsonl", ping_lines(truck))
    assert detect(tmp, fences, registry, tmp / "m1.jsonl") == 0  # without: ends at its last ping
    assert read(tmp / "alerts.jsonl") != fleet_alerts
    assert detect(tmp, fences, registry, tmp / "m1.jsonl", "--until", until) == 0
    assert read(tmp / "alerts.jsonl") == fleet_alerts
    assert read(tmp / "trips.jsonl") == fleet_trips


@pytest.mark.parametrize("until", ["2025-06-02T10:00:00+08:00", "1748829600000"])
def test_until_takes_iso_or_epoch_ms(files, capsys, until):  # noqa: F811
    tmp, fences, registry = files
    write_pings(tmp / "m1.jsonl", ping_lines(gone_dark_after_loading()))
    assert detect(tmp, fences, registry, tmp / "m1.jsonl", "--until", until) == 0
    assert "until: 2025-06-02T10:00:00+08:00 (1748829600000)" in capsys.readouterr().err


@pytest.mark.parametrize("until", ["tomorrow", "2025-06-02T10:00:00", "1.5"])
def test_a_bad_until_exits_2_naming_it(files, capsys, until):  # noqa: F811
    tmp, fences, registry = files
    write_pings(tmp / "m1.jsonl", [json.dumps({"vehicle": "M1", "ts": 0, "lat": 0, "lng": 0})])
    assert detect(tmp, fences, registry, tmp / "m1.jsonl", "--until", until) == 2
    assert "--until" in capsys.readouterr().err
