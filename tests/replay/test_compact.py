"""Compaction and retention (issue 12): every row kept once, whatever moment it stops at.

The archives here are what a live night leaves: small files per batch from two Kafka partitions
(the consumer has committed part of each) and from an embedded run, pings and alerts, over a
Beijing midnight. Readers list files with ``replay.layout.data_files`` as the queries do.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest

from replay import compact as compaction
from replay.committed import COMMITTED_FILE
from replay.compact import compact
from replay.layout import DAY_MS, SourceRange, data_files, day_start_ms
from replay.writer import write_batch
from tests.replay.archive_world import MIDNIGHT, WUXI, at, row

ROOT = Path(__file__).resolve().parents[2]
DAYS = ["2025-06-02", "2025-06-03"]
NOW = MIDNIGHT + DAY_MS  # the evening after the night


def kafka_batch(partition: int, first: int, last: int) -> list[dict]:
    """Pings of offsets ``first..last`` of a partition, one a minute around midnight."""
    rows = []
    for k in range(first, last + 1):
        r = row(f"K{partition}-{k % 3}", MIDNIGHT - 300_000 + 60_000 * k, at(k, -k), ingest=0)
        r.update(partition=partition, offset=k, ingest=None)
        rows.append(r)
    return rows


def alert(k: int) -> tuple[str, dict]:
    return ("alert", {"id": f"a{k}", "type": "overspeed", "vehicle": "K0-0", "ts": MIDNIGHT + k})


def night(archive: Path) -> None:
    """Partition 0: offsets 0-9 in batches of 2; partition 1: 0-7 in batches of 4; an embedded
    run of 6 lines in batches of 3; alerts with the partition-0 batches."""
    for lo in range(0, 10, 2):
        write_batch(archive, SourceRange(lo, lo + 1, 0), kafka_batch(0, lo, lo + 1), [alert(lo)])
    for lo in range(0, 8, 4):
        write_batch(archive, SourceRange(lo, lo + 3, 1), kafka_batch(1, lo, lo + 3))
    for lo in range(0, 6, 3):
        rows = [
            row("E1", MIDNIGHT - 120_000 + 60_000 * k, WUXI, ingest=k) for k in range(lo, lo + 3)
        ]
        write_batch(archive, SourceRange(lo, lo + 2), rows)


# Partition 0 committed up to offset 6 (batches 0-1, 2-3, 4-5 final), partition 1 up to 4.
COMMITTED = {"pings": {"0": 6, "1": 4}, "alerts": {"0": 6, "1": 4}, "events": {}}


def rows_of(archive: Path, table: str = "pings") -> list[tuple]:
    """Every row a reader gets, as sorted tuples (duplicates kept: a multiset)."""
    out = []
    for f in data_files(archive, table, DAYS):
        out.extend(tuple(sorted(r.items())) for r in pq.read_table(f).to_pylist())
    return sorted(out, key=repr)


def names(archive: Path, table: str = "pings") -> dict[str, list[str]]:
    return {
        d: sorted(os.listdir(archive / table / f"day={d}"))
        for d in DAYS
        if (archive / table / f"day={d}").exists()
    }


def snapshot(archive: Path) -> dict[str, list[tuple]]:
    return {t: rows_of(archive, t) for t in ("pings", "cells", "alerts")}


@pytest.mark.parametrize("workers", [1, 2])
def test_compaction_keeps_every_row_and_merges_only_final_files(tmp_path, workers):
    night(tmp_path)
    before = snapshot(tmp_path)
    report = compact(tmp_path, now_ms=NOW, retention_days=30, committed=COMMITTED, workers=workers)
    assert snapshot(tmp_path) == before
    assert names(tmp_path) == {
        # 23:55-00:04: offsets 0-4 of each partition before midnight, the rest after; the
        # embedded lines 0-1 before, 2-5 after. p0 6-9 and p1 4-7 are above the committed
        # offsets (a redelivery may rewrite them); a single final file stays as it is.
        "2025-06-02": ["p0-0-5.parquet", "p1-0-3.parquet", "p1-4-7.parquet", "s0-2.parquet"],
        "2025-06-03": [
            "p0-4-5.parquet",
            "p0-6-7.parquet",
            "p0-8-9.parquet",
            "p1-4-7.parquet",
            "s0-5.parquet",
        ],
    }
    merged = {(m["table"], m["day"], m["file"]): m["files"] for m in report["merged"]}
    assert merged[("pings", "2025-06-02", "p0-0-5.parquet")] == 3
    assert merged[("alerts", "2025-06-03", "p0-0-5.parquet")] == 3
    # the merged file is sorted by the table's sort key
    table = pq.read_table(tmp_path / "pings/day=2025-06-02/p0-0-5.parquet")
    keys = list(zip(table["vehicle"].to_pylist(), table["ts"].to_pylist(), strict=True))
    assert keys == sorted(keys)


def test_without_a_committed_file_only_embedded_files_merge(tmp_path):
    night(tmp_path)
    before = snapshot(tmp_path)
    compact(tmp_path, now_ms=NOW, retention_days=None)
    assert snapshot(tmp_path) == before
    assert "s0-5.parquet" in names(tmp_path)["2025-06-03"]
    assert "p0-0-1.parquet" in names(tmp_path)["2025-06-02"]
    assert not any(
        n.startswith("p0-0-") and n != "p0-0-1.parquet" for n in names(tmp_path)["2025-06-02"]
    )


def test_the_committed_file_is_read_from_the_archive(tmp_path):
    night(tmp_path)
    (tmp_path / COMMITTED_FILE).write_bytes(orjson.dumps(COMMITTED))
    compact(tmp_path, now_ms=NOW, retention_days=None)
    assert "p0-0-5.parquet" in names(tmp_path)["2025-06-02"]


def test_compaction_is_idempotent(tmp_path):
    night(tmp_path)
    compact(tmp_path, now_ms=NOW, retention_days=30, committed=COMMITTED)
    listing, before = names(tmp_path), snapshot(tmp_path)
    again = compact(tmp_path, now_ms=NOW, retention_days=30, committed=COMMITTED)
    assert again["merged"] == [] and again["removed"] == 0 and again["expired"] == []
    assert (names(tmp_path), snapshot(tmp_path)) == (listing, before)


def test_a_merged_file_is_merged_again_with_later_final_files(tmp_path):
    night(tmp_path)
    compact(tmp_path, now_ms=NOW, retention_days=None, committed=COMMITTED)
    before = snapshot(tmp_path)
    later = {**COMMITTED, "pings": {"0": 10, "1": 8}}
    compact(tmp_path, now_ms=NOW, retention_days=None, committed=later)
    assert snapshot(tmp_path) == before
    assert names(tmp_path) == {
        "2025-06-02": ["p0-0-5.parquet", "p1-0-7.parquet", "s0-2.parquet"],
        "2025-06-03": ["p0-4-9.parquet", "p1-4-7.parquet", "s0-5.parquet"],
    }


def test_a_redelivered_batch_never_touches_a_merged_file(tmp_path):
    night(tmp_path)
    compact(tmp_path, now_ms=NOW, retention_days=None, committed=COMMITTED)
    merged = [tmp_path / "pings/day=2025-06-02/p0-0-5.parquet",
              tmp_path / "alerts/day=2025-06-03/p0-0-5.parquet"]  # fmt: skip
    stamps = [(m.stat().st_mtime_ns, m.stat().st_ino) for m in merged]
    # The consumer dies and Kafka redelivers from the committed offset 6, cut differently; the
    # pings are late ones dated before midnight, so they land beside the merged pings file.
    late = kafka_batch(0, 6, 9)
    for r in late:
        r["ts"] = MIDNIGHT - 1000 * r["offset"]
    write_batch(tmp_path, SourceRange(6, 8, 0), late[:3], [alert(6)])
    write_batch(tmp_path, SourceRange(9, 9, 0), late[3:], [alert(8)])
    assert [(m.stat().st_mtime_ns, m.stat().st_ino) for m in merged] == stamps
    assert names(tmp_path)["2025-06-02"] == [
        "p0-0-5.parquet", "p0-6-8.parquet", "p0-9-9.parquet", "p1-0-3.parquet", "p1-4-7.parquet",
        "s0-2.parquet"]  # fmt: skip
    offsets = sorted(r["offset"] for r in pq.read_table(merged[0]).to_pylist())
    assert offsets == [0, 1, 2, 3, 4]


class Crash(BaseException):
    """kill -9 stands here: nothing after it runs."""


def crash_on(monkeypatch, target, name: str, call: int = 1, when=lambda *a: True) -> None:
    """Make the ``call``-th call of ``target.name`` whose arguments satisfy ``when`` raise
    :class:`Crash` before it acts."""
    real, calls = getattr(target, name), []

    def fake(*args, **kwargs):
        if when(*args):
            calls.append(1)
            if len(calls) == call:
                raise Crash
        return real(*args, **kwargs)

    monkeypatch.setattr(target, name, fake)


def _merged_rename(src, dst) -> bool:
    return str(src).endswith(compaction.COMPACT_TMP)


def _hiding(src, dst) -> bool:
    return compaction.EXPIRED_PREFIX in str(dst)


def _june(folder) -> bool:
    return Path(folder).name.startswith("day=2025-06")


def _data_file(path) -> bool:
    return str(path).endswith(".parquet")


# Every step of a merge and of an expiry, and a later one of several merges.
STEPS = [
    ("writing the merged temp file", compaction, "write_sorted", 1, None),
    ("a later merge's temp file", compaction, "write_sorted", 4, None),
    ("renaming the merged file into place", compaction.os, "replace", 1, _merged_rename),
    ("a later merge's rename", compaction.os, "replace", 3, _merged_rename),
    ("fsyncing the directory after the rename", compaction, "fsync_dir", 1, _june),
    ("deleting the merged files", compaction.Path, "unlink", 2, _data_file),
    ("hiding an expired day", compaction.os, "replace", 2, _hiding),
    ("deleting a hidden day", compaction.shutil, "rmtree", 1, None),
]


@pytest.mark.parametrize(
    ("step", "target", "name", "call", "when"), STEPS, ids=[s[0] for s in STEPS]
)
def test_a_crash_at_any_step_hides_nothing_and_the_next_run_repairs(
    tmp_path, monkeypatch, step, target, name, call, when
):
    night(tmp_path)
    old = tmp_path / "pings/day=2025-05-20"  # expired at NOW with 7 days of retention
    write_batch(tmp_path, SourceRange(0, 0, 3), [row("OLD", day_start_ms("2025-05-20"), WUXI, 0)])
    before = snapshot(tmp_path)
    crash_on(monkeypatch, target, name, call, when or (lambda *a: True))
    with pytest.raises(Crash):
        compact(tmp_path, now_ms=NOW, retention_days=7, committed=COMMITTED)
    monkeypatch.undo()
    assert snapshot(tmp_path) == before, f"a reader saw other rows after a crash {step}"
    compact(tmp_path, now_ms=NOW, retention_days=7, committed=COMMITTED)
    assert snapshot(tmp_path) == before
    assert not old.exists()
    left = [p.name for p in tmp_path.rglob("*") if p.name.startswith(".")]
    assert left == [], f"left behind: {left}"
    assert names(tmp_path)["2025-06-02"] == [
        "p0-0-5.parquet", "p1-0-3.parquet", "p1-4-7.parquet", "s0-2.parquet"]  # fmt: skip


def test_with_a_grace_the_merged_files_wait_for_the_next_run(tmp_path):
    night(tmp_path)
    before = snapshot(tmp_path)
    first = compact(tmp_path, now_ms=NOW, retention_days=None, committed=COMMITTED, grace_s=3600)
    assert first["removed"] == 0
    assert "p0-0-1.parquet" in names(tmp_path)["2025-06-02"]  # kept for a reader in flight
    assert snapshot(tmp_path) == before  # ... and hidden behind the merged file
    later = compact(tmp_path, now_ms=NOW, retention_days=None, committed=COMMITTED)
    assert later["removed"] > 0
    assert "p0-0-1.parquet" not in names(tmp_path)["2025-06-02"]
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize(
    ("now", "kept"),
    [
        # 2025-06-02 ends at MIDNIGHT; with 1 day of retention it goes at MIDNIGHT + 1 day.
        (MIDNIGHT + DAY_MS - 1, DAYS),
        (MIDNIGHT + DAY_MS, ["2025-06-03"]),
        (MIDNIGHT + 2 * DAY_MS - 1, ["2025-06-03"]),
        (MIDNIGHT + 2 * DAY_MS, []),
    ],
)
def test_retention_deletes_days_that_ended_retention_days_ago(tmp_path, now, kept):
    night(tmp_path)
    report = compact(tmp_path, now_ms=now, retention_days=1, committed=COMMITTED)
    for table in ("pings", "cells"):
        assert sorted(names(tmp_path, table)) == kept, table
    assert sorted(names(tmp_path, "alerts")) == [d for d in kept if d == "2025-06-03"]
    gone = sorted({e.split("/")[1] for e in report["expired"]})
    assert gone == [f"day={d}" for d in DAYS if d not in kept]


# The child is slowed where a kill must land (a merge's temp file kept 0.3 s, each delete of a
# merged file 20 ms), so that the parent sees each state; the kill itself is a real SIGKILL.
@pytest.mark.parametrize("days", [0, -3])
def test_a_retention_under_one_day_is_refused_before_anything_is_deleted(tmp_path, days):
    night(tmp_path)
    before = snapshot(tmp_path)
    with pytest.raises(ValueError, match="at least 1"):
        compact(tmp_path, now_ms=NOW + 30 * DAY_MS, retention_days=days, committed=COMMITTED)
    assert snapshot(tmp_path) == before


CHILD = """
import pathlib, sys, time
from replay import compact as c
write, unlink = c.write_sorted, pathlib.Path.unlink
def slow_write(*a, **k):
    write(*a, **k); time.sleep(0.3)
def slow_unlink(self, *a, **k):
    time.sleep(0.02); unlink(self, *a, **k)
c.write_sorted, pathlib.Path.unlink = slow_write, slow_unlink
c.compact(sys.argv[1], now_ms=int(sys.argv[2]), retention_days=None,
          committed={"pings": {"0": 10**9}, "alerts": {"0": 10**9}})
"""


def big_night(archive: Path, batches: int = 60) -> None:
    """Partition 0, many small committed batches over two days: a compaction of seconds."""
    for b in range(batches):
        lo = b * 40
        rows = kafka_batch(0, lo, lo + 39)
        for r in rows:
            r["ts"] = MIDNIGHT - DAY_MS // 2 + (r["offset"] * 17_000) % DAY_MS
        write_batch(archive, SourceRange(lo, lo + 39, 0), rows, [alert(lo)])


def reader_counts(archive: Path) -> int | None:
    """Rows a reader counts now; None when a listed file vanished before it was opened (a
    query retries then; compact(grace_s=...) exists for that)."""
    try:
        return sum(pq.read_metadata(f).num_rows for f in data_files(archive, "pings", DAYS))
    except FileNotFoundError:
        return None


@pytest.mark.parametrize("kill_after", ["temp", "merged"])
def test_kill_9_during_compaction_then_a_rerun_repairs(tmp_path, kill_after):
    big_night(tmp_path)
    total = reader_counts(tmp_path)
    before = snapshot(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(tmp_path), str(NOW)], cwd=ROOT, env=env
    )
    seen, deadline = [], time.monotonic() + 60
    while child.poll() is None and time.monotonic() < deadline:
        count = reader_counts(tmp_path)
        if count is not None:
            seen.append(count)
        day = tmp_path / "pings/day=2025-06-02"
        listing = os.listdir(day) if day.exists() else []
        if kill_after == "temp" and any(n.endswith(compaction.COMPACT_TMP) for n in listing):
            break
        if kill_after == "merged" and "p0-0-2399.parquet" in listing and len(listing) > 2:
            break  # renamed into place, the merged batches not all deleted yet
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert child.returncode == -signal.SIGKILL, "compaction finished before the kill"
    assert set(seen) <= {total}, "a reader counted rows twice or missed some"
    assert reader_counts(tmp_path) == total
    compact(tmp_path, now_ms=NOW, retention_days=None, committed={"pings": {"0": 10**9}})
    assert snapshot(tmp_path)["pings"] == before["pings"]
    assert names(tmp_path)["2025-06-02"] == ["p0-0-2399.parquet"]
    assert not [p for p in tmp_path.rglob("*.tmp")]
