"""`landun detect --archive DIR` (issue 12): the same run also writes the archive, and every
output (alerts, trips, rejections, warnings, the summary) is the same as without it."""

from __future__ import annotations

import json

import pytest

from replay.layout import data_files
from tests.landun.test_detect_cmd import detect, files, ping_lines, read, write_pings  # noqa: F401
from tests.stream.engine.test_alerts import dumping_stop, signal_lost


@pytest.fixture
def night(files):  # noqa: F811
    tmp, fences, registry = files
    lines = ping_lines(sorted([*dumping_stop(8), *signal_lost(900)], key=lambda p: p.ts))
    lines[10] = lines[10].replace('"speed_kmh": 0.0', '"speed_kmh": "fast"')  # a warning
    lines.insert(20, "{not json")
    lines.insert(30, json.dumps({"vehicle": "M1", "ts": "soon", "lat": 31.5, "lng": 120.3}))
    lines.insert(40, "")
    write_pings(tmp / "night.jsonl", lines)
    return tmp, fences, registry, lines


OUTPUTS = ("alerts.jsonl", "trips.jsonl", "rejected.jsonl", "warnings.jsonl")


def test_the_outputs_are_the_same_with_and_without_the_archive(night, capsys):
    tmp, fences, registry, _ = night
    warnings = ("--warnings", str(tmp / "warnings.jsonl"))
    assert detect(tmp, fences, registry, tmp / "night.jsonl", *warnings) == 0
    plain = {name: (tmp / name).read_bytes() for name in OUTPUTS}
    plain_summary = capsys.readouterr().err
    archive = ("--archive", str(tmp / "archive"))
    assert detect(tmp, fences, registry, tmp / "night.jsonl", *warnings, *archive) == 0
    assert {name: (tmp / name).read_bytes() for name in OUTPUTS} == plain
    assert capsys.readouterr().err == plain_summary
    assert {r["reason"] for r in read(tmp / "rejected.jsonl")} >= {"bad_json", "bad_field"}
    assert read(tmp / "warnings.jsonl") and read(tmp / "alerts.jsonl")
    days = sorted(p.name.removeprefix("day=") for p in (tmp / "archive" / "pings").iterdir())
    assert data_files(tmp / "archive", "pings", days)
    assert data_files(tmp / "archive", "alerts", days)


def test_an_archive_that_cannot_be_written_exits_2_naming_it(night, capsys):
    tmp, fences, registry, _ = night
    (tmp / "taken").write_text("a file, not a directory")
    code = detect(tmp, fences, registry, tmp / "night.jsonl", "--archive", str(tmp / "taken"))
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("landun detect: cannot write the archive")


def test_a_missing_pings_file_still_says_so_with_an_archive(night, capsys):
    tmp, fences, registry, _ = night
    code = detect(tmp, fences, registry, tmp / "absent.jsonl", "--archive", str(tmp / "a"))
    assert code == 2 and "cannot read pings" in capsys.readouterr().err
    assert not (tmp / "a").exists()
