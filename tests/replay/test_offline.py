"""The offline driver with an archive (issue 12): every non-blank line of the file gets one
``pings`` row with the verdict the engine gave it, the events and the reference go in too, and
archiving never changes what is detected.

The night: M1 does a clean trip, M2 idles in the depot (one fix of it jumps 22 km, which the
engine rejects only when M2's next fix releases it) then speeds at 75 km/h, a K1 fix is sent
twice, and K1's terminal sends one fix dated two days ahead before going silent (held in K1's
limbo until the end of the run, then ``filter_future``). A gateway also forwards a line that is
not JSON, one without a vehicle position, and a blank line.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import orjson
import pytest

from replay import embedded_sink, offline
from replay.layout import SourceRange
from replay.reference import reference_as_of
from stream.ping import Ping
from tests.stream.engine.test_alerts import FULL, loaded_at_site, overspeed
from tests.stream.engine.world import (
    LAT,
    Trace,
    context,
    fences_geojson,
    muck_trip,
    parked,
    registry_mapping,
)

DAY = 86_400_000


def night_lines() -> tuple[list[str], dict[str, int]]:
    """The night's lines in arrival order, and the 0-based line numbers of the special ones."""
    m1 = muck_trip("2025-06-01 21:00").pings
    m2 = parked("M2", "2025-06-01 20:50", hours=2).pings
    k1 = Trace("K1", "2025-06-01 20:55").stay(600, every=60).pings
    jump = Ping("M2", m2[20].ts + 20_000, 31.70, m2[20].lng, seq=999)
    ahead = Ping("K1", k1[-1].ts + 2 * DAY, k1[-1].lat, k1[-1].lng, seq=1000)
    speeding = overspeed(75, 120, vehicle="M2")  # 23:00, after its two hours in the depot
    pings = sorted([*m1, *m2, *k1, jump, *speeding], key=lambda p: p.ts)
    lines = [orjson.dumps(p.to_dict()).decode() for p in pings]
    k1_first = next(i for i, p in enumerate(pings) if p.vehicle == "K1")
    lines.insert(k1_first + 1, lines[k1_first])  # the same fix sent twice
    last_k1 = max(i for i, line in enumerate(lines) if '"K1"' in line)
    lines.insert(last_k1 + 1, orjson.dumps(ahead.to_dict()).decode())
    bad_field = json.dumps({"vehicle": "M1", "ts": m1[5].ts, "lat": "north", "lng": 120.3})
    for text in ("{garbage", bad_field, ""):
        lines.insert(len(lines) // 2, text)
    marks = {
        "jump": lines.index(orjson.dumps(jump.to_dict()).decode()),
        "ahead": lines.index(orjson.dumps(ahead.to_dict()).decode()),
        "duplicate": k1_first + 1,
        "not_json": lines.index("{garbage"),
        "bad_field": lines.index(bad_field),
        "blank": lines.index(""),
    }
    assert lines[marks["duplicate"]] == lines[marks["duplicate"] - 1]
    return lines, marks


@pytest.fixture
def night(tmp_path):
    lines, marks = night_lines()
    path = tmp_path / "pings.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, lines, marks


def run(path: Path, archive: Path | None):
    reference = (fences_geojson()["features"], registry_mapping())
    return offline.detect_file(path, context(), archive=archive, reference=reference)


def archived(archive: Path, table: str = "pings") -> list[dict]:
    files = sorted(str(p) for p in archive.glob(f"{table}/*/*.parquet"))
    if not files:
        return []
    with duckdb.connect() as con:
        rel = con.sql(f"SELECT * FROM read_parquet({files!r}, hive_partitioning=false)")
        cols = rel.columns
        return [dict(zip(cols, r, strict=True)) for r in rel.fetchall()]


@pytest.mark.parametrize("chunk", [7, 50, offline.CHUNK])
def test_every_non_blank_line_has_one_row_with_the_verdict_the_engine_gave(
    night, tmp_path, monkeypatch, chunk
):
    path, lines, marks = night
    monkeypatch.setattr(offline, "CHUNK", chunk)  # buffered pings decided chunks later
    found = run(path, tmp_path / "archive")
    by_line = {r["line"]: r for r in found.rejected}
    rows = {r["ingest"]: r for r in archived(tmp_path / "archive")}
    assert sorted(rows) == [i for i, text in enumerate(lines) if text.strip()]
    assert len(rows) == len(archived(tmp_path / "archive"))  # no line twice
    for i, row in rows.items():
        want = by_line[i + 1]["reason"] if i + 1 in by_line else "accepted"
        assert (i, row["verdict"]) == (i, want)
        assert row["raw"] == lines[i]
    verdicts = {name: rows[i]["verdict"] for name, i in marks.items() if name != "blank"}
    assert verdicts == {
        "jump": "filter_impossible_jump",  # decided when M2's next fix released it
        "ahead": "filter_future",  # decided by finish, many chunks later
        "duplicate": "filter_duplicate",
        "not_json": "bad_json",
        "bad_field": "bad_field",
    }
    assert rows[marks["bad_field"]]["vehicle"] == "M1" and rows[marks["not_json"]]["ts"] is None
    assert "lat" in rows[marks["bad_field"]]["detail"]


def test_batches_are_the_engine_chunks_named_by_their_line_ranges(night, tmp_path, monkeypatch):
    path, lines, _ = night
    monkeypatch.setattr(offline, "CHUNK", 50)
    run(path, tmp_path / "archive")
    names = {p.name for p in (tmp_path / "archive").glob("pings/*/*.parquet")}
    ranges = sorted((r.first, r.last) for r in map(SourceRange.from_file_name, names))
    assert ranges[0][0] == 0 and ranges[-1][1] == len(lines) - 1
    assert all(a[1] < b[0] for a, b in zip(ranges, ranges[1:], strict=False))  # disjoint
    assert len(ranges) > 3
    for row in archived(tmp_path / "archive"):
        assert any(a <= row["ingest"] <= b for a, b in ranges)


def test_events_and_the_reference_snapshot_are_archived(night, tmp_path, monkeypatch):
    path, _, _ = night
    monkeypatch.setattr(offline, "CHUNK", 50)
    found = run(path, tmp_path / "archive")
    latest: dict[str, dict] = {}
    for row in archived(tmp_path / "archive", "alerts"):
        latest.setdefault(row["id"], []).append(orjson.loads(row["payload"]))
    assert [a["type"] for a in found.alerts.values()] == ["overspeed"]
    assert {i: found.alerts[i] in versions for i, versions in latest.items()} == {
        i: True for i in found.alerts
    }
    trips = {r["id"] for r in archived(tmp_path / "archive", "trips")}
    assert trips == set(found.trips)
    features, registry = reference_as_of(tmp_path / "archive", 1748786400000)
    assert features == sorted(fences_geojson()["features"], key=lambda f: f["id"])
    assert registry == {k: sorted(v, key=lambda e: e["id"]) for k, v in registry_mapping().items()}


def test_the_archive_does_not_change_what_is_detected(night, tmp_path, monkeypatch):
    path, _, _ = night
    monkeypatch.setattr(offline, "CHUNK", 7)
    plain, archiving = run(path, None), run(path, tmp_path / "archive")
    assert archiving.sorted_alerts() == plain.sorted_alerts()
    assert archiving.sorted_trips() == plain.sorted_trips()
    assert archiving.sorted_rejected() == plain.sorted_rejected()
    assert archiving.until == plain.until and archiving.lines == plain.lines


def test_past_max_held_a_chunk_goes_out_with_its_buffered_ping_marked_held(
    night, tmp_path, monkeypatch
):
    """K1's fix two days ahead stays in K1's limbo to the end; with no chunk allowed to wait,
    its chunk is written anyway and the row says the ping was still buffered."""
    path, _, marks = night
    monkeypatch.setattr(offline, "CHUNK", 7)
    monkeypatch.setattr(embedded_sink, "MAX_HELD", 0)
    run(path, tmp_path / "archive")
    rows = {r["ingest"]: r for r in archived(tmp_path / "archive")}
    assert rows[marks["ahead"]]["verdict"] == embedded_sink.HELD
    assert rows[marks["jump"]]["verdict"] in ("filter_impossible_jump", embedded_sink.HELD)


def test_an_input_without_a_ping_still_archives_the_reference(tmp_path):
    path = tmp_path / "pings.jsonl"
    path.write_text("\n\n", encoding="utf-8")
    found = run(path, tmp_path / "archive")
    assert found.lines == 0 and archived(tmp_path / "archive") == []
    assert len(reference_as_of(tmp_path / "archive", 0)[0]) == len(fences_geojson()["features"])


def test_what_the_end_of_the_run_raises_goes_into_the_last_batch(tmp_path, monkeypatch):
    """M1 loads and is never heard of again: its signal_lost and unmatched_source come from
    the final tick at --until, after the last line; they are archived with the last batch."""
    monkeypatch.setattr(offline, "CHUNK", 20)
    pings = loaded_at_site().drive(LAT, 120.29, **FULL).pings
    path = tmp_path / "pings.jsonl"
    path.write_text("\n".join(orjson.dumps(p.to_dict()).decode() for p in pings) + "\n")
    until = pings[-1].ts + 10 * 3_600_000
    found = offline.detect_file(path, context(), until_ms=until, archive=tmp_path / "archive")
    assert {a["type"] for a in found.alerts.values()} >= {"signal_lost", "unmatched_source"}
    archived_ids = {r["id"] for r in archived(tmp_path / "archive", "alerts")}
    assert archived_ids == set(found.alerts)
    names = {p.name for p in (tmp_path / "archive").glob("alerts/*/*.parquet")}
    assert names <= {p.name for p in (tmp_path / "archive").glob("pings/*/*.parquet")}


def test_the_sink_keeps_its_newest_batch_for_the_events_of_finish(tmp_path):
    """Every line decided before the end: the last batch waits, so the events ``finish``
    returns join it under its name instead of re-writing (and emptying) its range."""
    sink = embedded_sink.EmbeddedSink(tmp_path, ref_base=0)
    first = Ping("M1", 1748869200000, 31.49, 120.31)
    sink.line(0, orjson.dumps(first.to_dict()).decode(), ping=first)
    sink.settle([], None)
    assert sink.write_ready() == 0  # the newest batch waits for the end of the run
    second = Ping("M1", 1748869230000, 31.49, 120.31)
    sink.line(1, orjson.dumps(second.to_dict()).decode(), ping=second)
    sink.settle([], None)
    assert sink.write_ready() == 1  # the first one goes out
    alert = {"id": "a1", "type": "signal_lost", "vehicle": "M1", "ts": first.ts}
    sink.settle([("alert", alert)], None, final=True)
    assert sink.write_ready() == 1
    assert [r["id"] for r in archived(tmp_path, "alerts")] == ["a1"]
    assert {p.name for p in tmp_path.glob("alerts/*/*.parquet")} == {"s1-1.parquet"}
    assert sorted(r["ingest"] for r in archived(tmp_path)) == [0, 1]
