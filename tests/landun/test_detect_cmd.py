"""`landun detect` through the real CLI entry point."""

from __future__ import annotations

import dataclasses
import json

import orjson
import pytest

from landun.cli import main
from stream.eventtime import iso_ts, parse_ts
from tests.stream.engine.test_alerts import dumping_stop, overspeed
from tests.stream.engine.world import fences_geojson, merged, muck_trip, registry_mapping


@pytest.fixture
def files(tmp_path):
    fences = tmp_path / "fences.geojson"
    fences.write_text(json.dumps(fences_geojson()), encoding="utf-8")
    registry = tmp_path / "registry.json"
    registry.write_text(json.dumps(registry_mapping()), encoding="utf-8")
    return tmp_path, fences, registry


def ping_lines(pings) -> list[str]:
    lines = []
    for p in pings:
        d = p.to_dict()
        d["ts"] = iso_ts(d["ts"]) if p.seq is not None and p.seq % 2 else d["ts"]  # both forms
        lines.append(json.dumps(d))
    return lines


def write_pings(path, lines):
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def detect(tmp, fences, registry, pings, *extra):
    args = [
        "detect",
        "--fences",
        str(fences),
        "--registry",
        str(registry),
        "--pings",
        str(pings),
        "--out",
        str(tmp / "alerts.jsonl"),
        "--trips",
        str(tmp / "trips.jsonl"),
        "--rejected",
        str(tmp / "rejected.jsonl"),
        *extra,
    ]
    return main(args)


def read(path):
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def test_detect_writes_alerts_trips_and_rejections(files, capsys):
    tmp, fences, registry = files
    pings = merged(muck_trip()) + _shifted(dumping_stop(8), "M1", 3)
    lines = ping_lines(pings)
    lines.insert(5, "{not json")
    lines.insert(9, json.dumps({"vehicle": "M1", "ts": "soon", "lat": 31.5, "lng": 120.3}))
    lines.insert(12, json.dumps({"vehicle": "X9", "ts": 1748782800000, "lat": 31.5, "lng": 120.3}))
    lines.insert(14, "")
    write_pings(tmp / "pings.jsonl", lines)
    assert detect(tmp, fences, registry, tmp / "pings.jsonl") == 0
    alerts = read(tmp / "alerts.jsonl")
    assert [a["type"] for a in alerts] == ["suspected_dumping"]
    trips = read(tmp / "trips.jsonl")
    assert [t["status"] for t in trips] == ["delivered", "delivered"]
    rejected = read(tmp / "rejected.jsonl")
    assert [(r["line"], r["reason"]) for r in rejected] == [
        (6, "bad_json"),
        (10, "bad_field"),
        (13, "filter_unknown_vehicle"),
    ]
    assert rejected[0]["raw"] == "{not json" and "ts" in rejected[1]["detail"]
    err = capsys.readouterr().err
    assert f"pings: {len(lines) - 1} read, {len(lines) - 4} accepted, 3 rejected" in err
    assert "suspected_dumping: 1" in err and "rejected bad_json: 1" in err


def _shifted(pings, vehicle, hours):
    return [dataclasses.replace(p, ts=p.ts + hours * 3600_000, vehicle=vehicle) for p in pings]


def test_output_is_byte_identical_across_runs(files):
    tmp, fences, registry = files
    pings = merged(muck_trip())
    pings += _shifted(overspeed(75, 120), "M1", 2) + _shifted(dumping_stop(8), "M1", 4)
    write_pings(tmp / "pings.jsonl", ping_lines(pings))
    assert detect(tmp, fences, registry, tmp / "pings.jsonl") == 0
    first = (tmp / "alerts.jsonl").read_bytes()
    assert detect(tmp, fences, registry, tmp / "pings.jsonl") == 0
    assert (tmp / "alerts.jsonl").read_bytes() == first
    alerts = read(tmp / "alerts.jsonl")
    assert [a["type"] for a in alerts] == ["overspeed", "suspected_dumping"]
    assert all(a["ended_ts"] for a in alerts)  # one line per id, final state


def test_thresholds_file_overrides(files):
    tmp, fences, registry = files
    write_pings(tmp / "pings.jsonl", ping_lines(overspeed(75, 120)))
    (tmp / "th.json").write_text('{"speed_limit_kmh": {"muck": 80}}', encoding="utf-8")
    assert (
        detect(tmp, fences, registry, tmp / "pings.jsonl", "--thresholds", str(tmp / "th.json"))
        == 0
    )
    assert read(tmp / "alerts.jsonl") == []
    (tmp / "th.json").write_text('{"speed_limit": 80}', encoding="utf-8")
    assert (
        detect(tmp, fences, registry, tmp / "pings.jsonl", "--thresholds", str(tmp / "th.json"))
        == 2
    )


@pytest.mark.parametrize("broken", ["fences", "registry", "pings"])
def test_unreadable_input_exits_2(files, capsys, broken):
    tmp, fences, registry = files
    write_pings(tmp / "pings.jsonl", ping_lines(muck_trip().pings))
    paths = {"fences": fences, "registry": registry, "pings": tmp / "pings.jsonl"}
    paths[broken] = tmp / "missing.json"
    assert detect(tmp, paths["fences"], paths["registry"], paths["pings"]) == 2
    assert f"cannot read {broken}" in capsys.readouterr().err


def test_invalid_registry_exits_2_naming_the_entry(files, capsys):
    tmp, fences, registry = files
    data = registry_mapping()
    data["vehicles"][0]["kind"] = "tractor"
    registry.write_text(json.dumps(data), encoding="utf-8")
    write_pings(tmp / "pings.jsonl", [])
    assert detect(tmp, fences, registry, tmp / "pings.jsonl") == 2
    assert "vehicles[0] (id 'M1'): kind" in capsys.readouterr().err


def test_a_registry_naming_missing_fences_exits_2_naming_each(files, capsys):
    """Issue 11: a permit's corridor missing from the fences file made every trip under it a
    route_deviation; now the run is refused, each problem named, and nothing is written."""
    tmp, fences, registry = files
    geo = fences_geojson()
    geo["features"] = [f for f in geo["features"] if f["id"] != "C1"]  # the corridor is gone
    fences.write_text(json.dumps(geo), encoding="utf-8")
    data = registry_mapping()
    data["contracts"][1]["plants"] = ["T1"]  # a terminal named as a kitchen plant
    registry.write_text(json.dumps(data), encoding="utf-8")
    write_pings(tmp / "pings.jsonl", ping_lines(muck_trip().pings))
    assert detect(tmp, fences, registry, tmp / "pings.jsonl") == 2
    err = capsys.readouterr().err
    assert "permits[0] (id 'P-1'): corridors: unknown fence 'C1'" in err
    assert "contracts[1] (id 'C-O1'): plants: fence 'T1' is a terminal, not a plant" in err
    assert not (tmp / "alerts.jsonl").exists()


def test_invalid_fences_exit_2(files, capsys):
    tmp, fences, registry = files
    fences.write_text('{"type": "FeatureCollection", "features": [{"type": "Feature"}]}')
    write_pings(tmp / "pings.jsonl", [])
    assert detect(tmp, fences, registry, tmp / "pings.jsonl") == 2
    assert "problem" in capsys.readouterr().err


def test_bad_field_keeps_the_vehicle_and_a_bad_optional_field_keeps_the_position(files):
    """Issue 11: `bad_field` lines said ``"vehicle": null`` although the id parsed, and a speed
    sent as text, or any bad optional field, cost the whole ping, position included."""
    tmp, fences, registry = files
    lines = ping_lines(merged(muck_trip()))
    first = json.loads(lines[0])
    moving = [n for n, line in enumerate(lines) if json.loads(line).get("speed_kmh")][:2]
    for n, change in zip(moving, ({"heading": []}, {"speed_kmh": "fast"}), strict=True):
        lines[n] = json.dumps({**json.loads(lines[n]), **change})  # no longer a rejection
    lines.insert(3, json.dumps({**first, "lat": "north"}))
    lines.insert(4, json.dumps({**first, "vehicle": 7}))
    write_pings(tmp / "pings.jsonl", lines)
    assert detect(tmp, fences, registry, tmp / "pings.jsonl") == 0
    rejected = read(tmp / "rejected.jsonl")
    assert [(r["line"], r["reason"], r["vehicle"]) for r in rejected] == [
        (4, "bad_field", first["vehicle"]),
        (5, "bad_field", None),
    ]
    assert rejected[0]["detail"] == "lat: expected a number, got 'north'"


def test_warnings_are_counted_by_field_and_written_with_their_line(files, capsys):
    """Issue 11 review: a gateway sending ``"lift": 1`` made every tipper rule blind, and the
    warnings of accepted pings appeared nowhere. The summary counts them by field and
    ``--warnings`` lists each warned line."""
    tmp, fences, registry = files
    lines = ping_lines(merged(muck_trip()))
    changes = {2: {"lift": 1}, 5: {"lift": 1, "speed_kmh": "fast"}, 7: {"lift": 1}}
    for n, change in changes.items():
        lines[n] = json.dumps({**json.loads(lines[n]), **change})
    write_pings(tmp / "pings.jsonl", lines)
    out = tmp / "warnings.jsonl"
    assert detect(tmp, fences, registry, tmp / "pings.jsonl", "--warnings", str(out)) == 0
    warned = read(out)
    assert [(w["ref"], w["vehicle"]) for w in warned] == [(3, "M1"), (6, "M1"), (8, "M1")]
    assert warned[1]["warnings"] == [
        "speed_kmh: expected a number, got 'fast'",
        "lift: expected true or false, got 1",
    ]
    assert warned[0]["ts"] == iso_ts(parse_ts(json.loads(lines[2])["ts"]))
    assert set(warned[0]) == {"ref", "vehicle", "ts", "warnings"}
    err = capsys.readouterr().err
    assert "warnings: 3 pings had a bad optional field dropped" in err
    assert "  warning lift: 3\n" in err and "  warning speed_kmh: 1\n" in err
    assert read(tmp / "rejected.jsonl") == []  # kept, not rejected


def test_no_warnings_no_summary_line_and_an_empty_file(files, capsys):
    tmp, fences, registry = files
    write_pings(tmp / "pings.jsonl", ping_lines(merged(muck_trip())))
    out = tmp / "warnings.jsonl"
    assert detect(tmp, fences, registry, tmp / "pings.jsonl", "--warnings", str(out)) == 0
    assert out.read_bytes() == b"" and "warning" not in capsys.readouterr().err
