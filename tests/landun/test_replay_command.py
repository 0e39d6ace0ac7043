"""`landun replay` through the CLI (issue 12): the JSON it prints, --out, the reference it uses,
the archive it reads by default, and the refusals (exit 2, `landun replay: ...` on stderr)."""

from __future__ import annotations

import dataclasses
import json

import pytest

from landun.cli import main
from tests.landun.test_detect_cmd import detect, files, ping_lines, read, write_pings  # noqa: F401
from tests.stream.engine.test_alerts import dumping_stop, overspeed
from tests.stream.engine.world import registry_mapping

FROM, TO = "2025-06-01T20:00:00+08:00", "2025-06-02T06:00:00+08:00"
KEYS = ["from", "to", "order", "pings", "accepted", "rejected", "unparsed", "alerts", "trips"]


@pytest.fixture
def archived(files, capsys):  # noqa: F811
    """A night of M1 (a trip and a dump) and another truck speeding, through detect --archive."""
    tmp, fences, registry = files
    # M2 speeds at 21:00, while M1 works: the fleet's time (the run's end) follows them both
    speeding = [
        dataclasses.replace(p, ts=p.ts - 2 * 3_600_000) for p in overspeed(75, 120, vehicle="M2")
    ]
    pings = sorted([*dumping_stop(8), *speeding], key=lambda p: p.ts)
    write_pings(tmp / "night.jsonl", [*ping_lines(pings), "{not json"])
    archive = tmp / "archive"
    assert detect(tmp, fences, registry, tmp / "night.jsonl", "--archive", str(archive)) == 0
    capsys.readouterr()
    return tmp, fences, registry, archive


def replay(capsys, *args) -> tuple[int, dict | None, str]:
    code = main(["replay", *args])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip() else None), err


def test_replay_prints_the_contract_json_and_writes_alerts_like_detect(archived, capsys):
    tmp, _, _, archive = archived
    args = ("--archive", str(archive), "--from", FROM, "--to", TO, "--out", str(tmp / "again"))
    code, result, err = replay(capsys, *args)
    assert code == 0 and err == ""
    assert list(result) == KEYS
    assert (result["from"], result["to"], result["order"]) == (FROM, TO, "arrival")
    assert result["unparsed"] == 0  # the bad line has no time: archived, dated 1970, not here
    assert result["pings"] == result["accepted"] + result["rejected"] > 50
    assert sorted({a["type"] for a in result["alerts"]}) == ["overspeed", "suspected_dumping"]
    assert read(tmp / "again") == result["alerts"]
    assert (tmp / "again").read_bytes().splitlines()[0].startswith(b'{"id"')


def test_the_live_end_gives_the_live_alerts_file_byte_for_byte(archived, capsys):
    tmp, fences, registry, archive = archived
    detect(tmp, fences, registry, tmp / "night.jsonl")
    until = capsys.readouterr().err.rsplit("(", 1)[1].split(")")[0]
    args = ("--archive", str(archive), "--from", FROM, "--to", until, "--out", str(tmp / "again"))
    assert replay(capsys, *args)[0] == 0
    assert (tmp / "again").read_bytes() == (tmp / "alerts.jsonl").read_bytes()


def test_vehicles_event_order_and_the_default_archive(archived, capsys, monkeypatch):
    _, _, _, archive = archived
    monkeypatch.setenv("LANDUN_ARCHIVE_DIR", str(archive))
    code, result, _ = replay(capsys, "--from", FROM, "--to", TO, "--vehicles", "M2")
    assert code == 0 and [a["type"] for a in result["alerts"]] == ["overspeed"]
    code, result, _ = replay(capsys, "--from", FROM, "--to", TO, "--event-order")
    assert code == 0 and result["order"] == "event" and len(result["alerts"]) == 2


def test_given_reference_files_replace_the_archived_reference(archived, capsys):
    """The permit revoked in a registry file: M1's load becomes unpermitted."""
    tmp, fences, _, archive = archived
    revoked = registry_mapping()
    revoked["permits"] = []
    (tmp / "revoked.json").write_text(json.dumps(revoked), encoding="utf-8")
    args = ["--archive", str(archive), "--from", FROM, "--to", TO, "--vehicles", "M1"]
    _, archived_ref, _ = replay(capsys, *args)
    code, given, _ = replay(capsys, *args, "--fences", str(fences), "--registry",
                            str(tmp / "revoked.json"))  # fmt: skip
    assert code == 0
    assert "unpermitted_load" not in {a["type"] for a in archived_ref["alerts"]}
    assert "unpermitted_load" in {a["type"] for a in given["alerts"]}


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--from", TO, "--to", FROM], "before"),
        (["--from", "soon", "--to", TO], "from"),
        (["--from", FROM, "--to", "2025-08-01T00:00:00+08:00"], "31"),
        (["--from", FROM, "--to", TO, "--fences", "f.geojson"], "--fences and --registry"),
        (["--from", FROM, "--to", TO, "--vehicles", ","], "vehicle"),
        (["--from", FROM, "--to", TO, "--thresholds", "/nonexistent.json"], "thresholds"),
    ],
)
def test_a_bad_request_exits_2_saying_why(archived, capsys, extra, message):
    _, _, _, archive = archived
    code, result, err = replay(capsys, "--archive", str(archive), *extra)
    assert code == 2 and result is None
    assert err.startswith("landun replay: ") and message in err


def test_a_replay_of_a_bad_reference_file_exits_2(archived, capsys):
    tmp, fences, _, archive = archived
    (tmp / "bad.json").write_text('{"vehicles": [{"id": "X"}]}', encoding="utf-8")
    args = ["--archive", str(archive), "--from", FROM, "--to", TO]
    code, _, err = replay(
        capsys, *args, "--fences", str(fences), "--registry", str(tmp / "bad.json")
    )
    assert code == 2 and err.startswith("landun replay: ") and "kind" in err
