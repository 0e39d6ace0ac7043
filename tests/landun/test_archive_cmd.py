"""`landun archive` and `landun archive compact` as commands (issue 12): what they refuse, and
compaction run from the command with the consumer's committed offsets and the retention setting
(the consumer itself: tests/replay/test_consumer_*.py; compaction itself: its own tests)."""

from __future__ import annotations

import orjson
import pytest

from landun.cli import main as landun
from replay.archive_lock import hold_archive
from replay.committed import write_committed
from replay.layout import SourceRange
from replay.rows import ping_row
from replay.writer import write_batch
from stream.ping import Ping

T0 = 1748869200000  # 2025-06-02T21:00:00+08:00


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--batch", "0"], "--batch must be at least 1"),
        (["--linger", "-1"], "--linger and --idle-exit >= 0"),
        (["--idle-exit", "-5"], "--linger and --idle-exit >= 0"),
    ],
)
def test_bad_arguments_exit_2_saying_why(args, message, tmp_path, capsys):
    nowhere = ["--bootstrap", "127.0.0.1:1", "--namespace", "nowhere"]  # never a real broker
    assert landun(["archive", "--archive", str(tmp_path), *nowhere, *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("landun archive: ") and message in err


def test_one_consumer_per_archive_directory(tmp_path, capsys):
    held = hold_archive(tmp_path)
    try:
        assert landun(["archive", "--archive", str(tmp_path), "--bootstrap", "127.0.0.1:1"]) == 2
        assert "another `landun archive` consumer holds it" in capsys.readouterr().err
    finally:
        held.close()
    again = hold_archive(tmp_path)  # released with its holder
    again.close()


def batches(archive, partition: int | None, cuts: list[tuple[int, int]]) -> None:
    """Pings batches of one source, ``(first, last)`` each, on 2025-06-02 (Beijing)."""
    for first, last in cuts:
        rows = [
            ping_row(Ping("V1", T0 + k * 1000, 31.49, 120.31), "accepted", raw="{}",
                     partition=partition, offset=k if partition is not None else None,
                     ingest=k if partition is None else None)
            for k in range(first, last + 1)
        ]  # fmt: skip
        write_batch(archive, SourceRange(first, last, partition), rows)


def names(archive, table="pings") -> list[str]:
    return sorted(p.name for p in (archive / table / "day=2025-06-02").glob("*.parquet"))


def test_compact_merges_only_what_the_consumer_committed(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("LANDUN_ARCHIVE_RETENTION_DAYS", "30")
    batches(tmp_path, 0, [(0, 9), (10, 19), (20, 29)])
    write_committed(tmp_path, {"pings": {0: 20}})  # 20..29 may still be rewritten
    now = "2025-06-03T06:00:00+08:00"
    args = ["archive", "compact", "--archive", str(tmp_path), "--now", now]
    assert landun([*args, "--grace", "0"]) == 0
    report = orjson.loads(capsys.readouterr().out)
    assert names(tmp_path) == ["p0-0-19.parquet", "p0-20-29.parquet"]
    assert names(tmp_path, "cells") == ["p0-0-19.parquet", "p0-20-29.parquet"]
    assert {(m["table"], m["files"], m["rows"]) for m in report["merged"]} == {
        ("pings", 2, 20),
        ("cells", 2, 20),
    }
    assert report["retention_days"] == 30 and report["expired"] == []


def test_compact_keeps_merged_away_files_for_queries_already_listing_them(tmp_path, capsys):
    """By default the inputs of a merge stay until a later run (a query may have listed them
    just before the merge); readers count each row once meanwhile."""
    batches(tmp_path, 0, [(0, 9), (10, 19)])
    write_committed(tmp_path, {"pings": {0: 20}})
    args = ["archive", "compact", "--archive", str(tmp_path), "--now", "2025-06-03T06:00:00+08:00"]
    assert landun(args) == 0
    capsys.readouterr()
    assert names(tmp_path) == ["p0-0-19.parquet", "p0-0-9.parquet", "p0-10-19.parquet"]
    assert landun([*args, "--grace", "0"]) == 0
    assert names(tmp_path) == ["p0-0-19.parquet"]


def test_compact_deletes_days_beyond_the_retention(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("LANDUN_ARCHIVE_RETENTION_DAYS", "30")
    batches(tmp_path, None, [(0, 9), (10, 19)])  # an embedded archive: no _committed.json
    later = str(T0 + 29 * 86_400_000)
    compact = ["archive", "compact", "--archive", str(tmp_path), "--grace", "0"]
    assert landun([*compact, "--now", later]) == 0
    assert names(tmp_path) == ["s0-19.parquet"]  # embedded files are always final
    capsys.readouterr()
    much_later = str(T0 + 32 * 86_400_000)
    assert landun([*compact, "--now", much_later]) == 0
    assert "pings/day=2025-06-02" in orjson.loads(capsys.readouterr().out)["expired"]
    assert names(tmp_path) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--now", "yesterday"], "--now"),
        (["--archive", "/nonexistent/archive"], "no such archive directory"),
    ],
)
def test_compact_refuses_a_bad_request(args, message, tmp_path, capsys):
    batches(tmp_path, None, [(0, 9), (10, 19)])
    argv = ["archive", "compact", *args]
    if "--archive" not in args:
        argv += ["--archive", str(tmp_path)]
    assert landun(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("landun archive compact: ") and message in err
    assert names(tmp_path) == ["s0-9.parquet", "s10-19.parquet"]  # nothing touched
