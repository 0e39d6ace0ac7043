"""The archive writer: atomic files named by source range, no duplicate after a crash or a
redelivery (issue 12)."""

from __future__ import annotations

import os

import duckdb
import pyarrow.parquet as pq
import pytest

from replay import writer
from replay.layout import SourceRange, data_files, day_dir, days_between
from replay.writer import write_batch
from tests.replay.archive_world import MIDNIGHT, WUXI, row

T0 = MIDNIGHT - 60_000  # 23:59 +08:00: a batch of 4 pings spans two days


def batch(first: int, last: int, vehicle: str = "V1") -> list[dict]:
    """Pings with ingest ``first..last``, one a minute from 23:59 Beijing time."""
    return [row(vehicle, T0 + 30_000 * k, WUXI, ingest=k) for k in range(first, last + 1)]


def archived(archive, table: str = "pings") -> list[tuple]:
    files = data_files(archive, table, days_between(T0 - 86_400_000, T0 + 86_400_000))
    if not files:
        return []
    lst = "[" + ", ".join(f"'{f}'" for f in files) + "]"
    with duckdb.connect() as con:
        return con.execute(
            f"SELECT vehicle, ts, ingest, verdict, CAST(day AS VARCHAR) FROM read_parquet({lst}, "
            "hive_partitioning=true) ORDER BY ingest"
        ).fetchall()


def leftovers(archive) -> list[str]:
    return sorted(
        f"{os.path.basename(root)}/{n}"
        for root, _, names in os.walk(archive)
        for n in names
        if n.endswith(".tmp")
    )


def test_a_batch_is_written_by_day_and_read_back_by_duckdb(tmp_path):
    rows = batch(0, 3)
    rows.append(row("V2", T0, WUXI, ingest=4, verdict="filter_duplicate"))
    write_batch(tmp_path, SourceRange(0, 4), rows)
    got = archived(tmp_path)
    assert [(r[2], r[4]) for r in got] == [
        (0, "2025-06-02"),
        (1, "2025-06-02"),
        (2, "2025-06-03"),
        (3, "2025-06-03"),
        (4, "2025-06-02"),
    ]
    assert got[4][3] == "filter_duplicate"
    # the cell-sorted copy holds the accepted pings only
    assert len(archived_cells(tmp_path)) == 4
    names = sorted(p.name for p in (tmp_path / "pings").rglob("*.parquet"))
    assert names == ["s0-4.parquet", "s0-4.parquet"]


def archived_cells(archive) -> list[dict]:
    files = data_files(archive, "cells", days_between(T0, T0 + 86_400_000))
    return [r for f in files for r in pq.read_table(f).to_pylist()]


def test_files_are_sorted_by_vehicle_then_time(tmp_path):
    rows = [row("V2", T0 + 1000, WUXI, 0), row("V1", T0 + 2000, WUXI, 1)]
    rows.append(row("V1", T0, WUXI, 2))
    write_batch(tmp_path, SourceRange(0, 2), rows)
    (path,) = data_files(tmp_path, "pings", ["2025-06-02"])
    table = pq.read_table(path)
    assert list(zip(table["vehicle"].to_pylist(), table["ts"].to_pylist(), strict=True)) == [
        ("V1", T0),
        ("V1", T0 + 2000),
        ("V2", T0 + 1000),
    ]


def test_the_same_range_written_twice_is_one_copy(tmp_path):
    write_batch(tmp_path, SourceRange(0, 3), batch(0, 3))
    write_batch(tmp_path, SourceRange(0, 3), batch(0, 3))
    assert [r[2] for r in archived(tmp_path)] == [0, 1, 2, 3]
    assert len(archived_cells(tmp_path)) == 4


def test_a_redelivery_cut_elsewhere_leaves_no_duplicate(tmp_path):
    # The first life wrote 0-3 (not committed); Kafka redelivers from 0 in batches 0-1, 2-3.
    write_batch(tmp_path, SourceRange(0, 3, 5), batch(0, 3))
    write_batch(tmp_path, SourceRange(0, 1, 5), batch(0, 1))
    write_batch(tmp_path, SourceRange(2, 3, 5), batch(2, 3))
    assert [r[2] for r in archived(tmp_path)] == [0, 1, 2, 3]
    names = sorted(p.name for p in (tmp_path / "pings").rglob("*.parquet"))
    assert names == ["p5-0-1.parquet", "p5-2-3.parquet"]


def test_other_sources_are_left_alone(tmp_path):
    write_batch(tmp_path, SourceRange(0, 3, 1), batch(0, 3, "V1"))
    write_batch(tmp_path, SourceRange(0, 3, 2), batch(0, 3, "V2"))  # another partition
    write_batch(tmp_path, SourceRange(4, 7), batch(4, 7, "V3"))  # embedded
    assert len(archived(tmp_path)) == 12


class Crash(BaseException):
    """kill -9 stands here: nothing after it runs."""


def test_a_crash_between_temp_and_rename_leaves_nothing_visible(tmp_path, monkeypatch):
    write_batch(tmp_path, SourceRange(0, 1), batch(0, 1))

    def crash(src, dst):
        raise Crash

    monkeypatch.setattr(writer.os, "replace", crash)
    with pytest.raises(Crash):
        write_batch(tmp_path, SourceRange(2, 3), batch(2, 3))
    monkeypatch.undo()
    assert leftovers(tmp_path), "the crash left its temp files"
    assert [r[2] for r in archived(tmp_path)] == [0, 1]  # readers skip them
    # the restarted writer gets the batch again and cleans the temp files up
    write_batch(tmp_path, SourceRange(2, 3), batch(2, 3))
    assert leftovers(tmp_path) == []
    assert [r[2] for r in archived(tmp_path)] == [0, 1, 2, 3]


def test_a_failure_while_staging_removes_its_temp_files(tmp_path, monkeypatch):
    real = writer.pq.write_table
    calls = []

    def fail_second(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise OSError("disk full")
        return real(*args, **kwargs)

    monkeypatch.setattr(writer.pq, "write_table", fail_second)
    with pytest.raises(OSError, match="disk full"):
        write_batch(tmp_path, SourceRange(0, 3), batch(0, 3))
    assert leftovers(tmp_path) == []
    assert archived(tmp_path) == []


def test_temp_files_of_another_source_are_not_touched(tmp_path):
    folder = day_dir(tmp_path, "pings", "2025-06-02")
    folder.mkdir(parents=True)
    theirs = folder / ".p2-0-9.parquet.123.tmp"  # partition 2's writer, in flight
    theirs.write_bytes(b"")
    write_batch(tmp_path, SourceRange(0, 9, 1), batch(0, 1))
    assert theirs.exists()


def test_engine_events_go_to_their_tables(tmp_path):
    alert = {"id": "a1", "type": "overspeed", "vehicle": "V1", "district": "梁溪", "ts": T0}
    events = [
        ("alert", alert),
        ("alert", alert),  # the same version twice in a batch: one row
        ("alert", {**alert, "ended_ts": T0 + 60_000}),  # a new version: a row
        ("trip", {"id": "T-1", "vehicle": "V1", "kind": "muck", "load_ts": T0, "status": "open"}),
        ("fence", {"detect": "enter", "vehicle": "V1", "fence": "site-1", "ts": T0}),
        ("stop", {"vehicle": "V1", "ts": T0, "ended_ts": T0 + 300_000, "duration_s": 300}),
        ("rejected", {"reason": "filter_zero"}),  # the ping row holds it
    ]
    write_batch(tmp_path, SourceRange(0, 0), [], events)
    day = ["2025-06-02"]
    counts = {
        t: sum(pq.read_metadata(f).num_rows for f in data_files(tmp_path, t, day))
        for t in ("alerts", "trips", "fence_events", "stops", "pings")
    }
    assert counts == {"alerts": 2, "trips": 1, "fence_events": 1, "stops": 1, "pings": 0}
