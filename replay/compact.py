"""Compaction and retention of the archive (issue 12): few large sorted files per day.

A live archive holds one small file per batch, table and day: a day of 10,000 trucks is
thousands of files, and a query pays for each (footer reads, tiny row groups, weak compression).
:func:`compact` merges, per table, day and source (a Kafka partition, or the embedded ingest
sequence), the files that may no longer change into one file sorted by the table's sort key,
written with the long-lived Parquet settings (``replay.tables.parquet_options``), and deletes
the day partitions older than the retention.

Which files are final: an embedded ``s…`` file always; a Kafka ``p{partition}-{first}-{last}``
file when ``last`` is below the committed next offset of its table's source topic and partition
(``DIR/_committed.json``, written by the consumer after each offset commit): above it, a
redelivery after a crash may still rewrite the range. A redelivered batch starts at the
committed offset, so it never overlaps a merged file.

Crash safety, with no lock against readers: the merged file is named after the whole range of
the files it merges (``p3-0-999.parquet`` for ``p3-0-499`` and ``p3-500-999``), written to a
temp file, fsynced and renamed into place; only then are the merged files deleted. A reader
(``replay.layout.data_files``) leaves out any file whose range another file of the same source
holds, so at every moment it counts each row once; a run killed anywhere leaves temp files and
covered files that the next run deletes. Expired days are renamed to a hidden name first (a
reader sees the whole day or none of it) and then removed.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from replay.committed import read_committed
from replay.layout import DAY_MS, SourceRange, day_start_ms, visible
from replay.tables import SOURCE_TOPIC, TABLES
from replay.writer import fsync_dir, write_sorted
from stream.eventtime import iso_ts

LOCK_FILE = "_compact.lock"
COMPACT_TMP = ".compact.tmp"  # ".p3-0-999.parquet.<pid>.compact.tmp": a merge in flight
EXPIRED_PREFIX = ".expired-"  # "pings/.expired-day=2025-06-02": a day being deleted


def compact(
    archive: str | os.PathLike,
    *,
    now_ms: int,
    retention_days: int | None,
    committed: dict[str, dict[str, int]] | None = None,
    grace_s: float = 0.0,
    workers: int = 1,
) -> dict[str, Any]:
    """Merge each table-day-source's final files into one sorted file; drop expired days.

    Parameters
    ----------
    archive : path
        The archive directory.
    now_ms : int
        The present (epoch ms); retention counts back from it.
    retention_days : int or None
        Keep days whose end is within this many days before ``now_ms``; a Beijing day ending
        at or before ``now_ms - retention_days`` days is deleted (at least 1). None keeps
        everything.
    committed : dict, optional
        ``{topic: {partition: next offset}}`` as in ``DIR/_committed.json`` (read from there
        when None; no file: no Kafka file is final, embedded ``s…`` files always are).
    grace_s : float, default 0
        Keep the files a merge replaced until the merged file is this many seconds old (wall
        clock), so that a query that listed them just before the rename can still open them;
        the next run deletes them. 0 deletes them at once.
    workers : int, default 1
        Day folders merged at once (threads: reading, sorting, compressing and writing run in
        Arrow without the GIL). Each holds one table-day-source in memory while it merges.

    Returns
    -------
    dict
        ``merged``: one item per merge (``table``, ``day``, ``file``, ``files`` merged,
        ``rows``); ``removed``: files deleted because a merged file holds them (including
        those a killed run left); ``temp_removed``: temp files of killed merges; ``expired``:
        the ``table/day=…`` partitions deleted; ``now``, ``retention_days``.

    Examples
    --------
    >>> import tempfile
    >>> from replay.rows import ping_row
    >>> from replay.writer import write_batch
    >>> from stream.ping import Ping
    >>> rows = [ping_row(Ping("V1", 1748869200000 + k, 31.49, 120.31), "accepted", raw="{}",
    ...                  ingest=k) for k in range(4)]
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     for k in range(0, 4, 2):
    ...         _ = write_batch(tmp, SourceRange(k, k + 1), rows[k:k + 2])
    ...     report = compact(tmp, now_ms=1748869200000, retention_days=None)
    ...     sorted(os.listdir(f"{tmp}/pings/day=2025-06-02"))
    ['s0-3.parquet']
    >>> [(m["table"], m["files"], m["rows"]) for m in report["merged"]]
    [('pings', 2, 4), ('cells', 2, 4)]
    """
    if retention_days is not None and retention_days < 1:
        # 0 would delete every day that has ended: never what a setting typo should do
        raise ValueError(f"retention_days {retention_days}: need at least 1 (None keeps all)")
    folder = Path(archive)
    report: dict[str, Any] = {
        "now": iso_ts(now_ms),
        "retention_days": retention_days,
        "merged": [],
        "removed": 0,
        "temp_removed": 0,
        "expired": [],
    }
    if not folder.is_dir():
        return report
    if committed is None:
        committed = read_committed(folder) or {}  # no file: only embedded files are final
    # partitions as the file has them (strings) or as replay.committed reads them (ints)
    final = {t: {str(p): int(n) for p, n in by.items()} for t, by in committed.items()}
    with _locked(folder):
        todo: list[tuple[Path, str]] = []
        for table in TABLES:
            for day_folder in _day_folders(folder / table):
                if retention_days is not None and _expired(day_folder.name, now_ms, retention_days):
                    _expire(day_folder)
                    report["expired"].append(f"{table}/{day_folder.name}")
                else:
                    todo.append((day_folder, table))
            _remove_expired_leftovers(folder / table)

        def one(job: tuple[Path, str]) -> dict[str, Any]:
            day_folder, table = job
            return _compact_day(day_folder, table, final.get(SOURCE_TOPIC[table], {}), grace_s)

        if workers > 1:
            with ThreadPoolExecutor(workers) as pool:
                done = list(pool.map(one, todo))
        else:
            done = [one(job) for job in todo]
    for part in done:
        report["merged"].extend(part["merged"])
        report["removed"] += part["removed"]
        report["temp_removed"] += part["temp_removed"]
    return report


def _compact_day(folder: Path, table: str, offsets: dict[str, int], grace_s: float) -> dict:
    """Repair what a killed run left in one ``table/day=…`` folder, then merge its final
    files, source by source."""
    report: dict[str, Any] = {"merged": [], "removed": 0, "temp_removed": 0}
    names = os.listdir(folder)
    for name in names:
        if name.startswith(".") and name.endswith(COMPACT_TMP):  # a killed merge (we hold the lock)
            (folder / name).unlink(missing_ok=True)
            report["temp_removed"] += 1
    shown = visible(names)
    report["removed"] += _remove_covered(folder, names, shown, grace_s)
    for source, files in _final_by_source(shown, offsets).items():
        if len(files) >= 2:
            report["merged"].append(_merge(folder, table, source, files, grace_s))
    fsync_dir(folder)
    return report


def _final_by_source(names: list[str], offsets: dict[str, int]) -> dict[int | None, list]:
    """The visible files that may no longer change, by source, in offset order."""
    out: dict[int | None, list[SourceRange]] = {}
    for name in names:
        r = SourceRange.from_file_name(name)
        if r is None:
            continue
        if r.partition is not None and r.last >= offsets.get(str(r.partition), 0):
            continue  # not committed yet: a redelivery may rewrite it
        out.setdefault(r.partition, []).append(r)
    return {s: sorted(rs, key=lambda r: r.first) for s, rs in out.items()}


def _merge(
    folder: Path, table: str, source: int | None, files: list[SourceRange], grace_s: float
) -> dict[str, Any]:
    """Merge ``files`` into one sorted file named after their whole range; then delete them."""
    merged = SourceRange(files[0].first, max(r.last for r in files), source)
    data = pa.concat_tables(
        pq.read_table(folder / r.file_name(), schema=TABLES[table]) for r in files
    )
    target = folder / merged.file_name()
    tmp = folder / f".{target.name}.{os.getpid()}{COMPACT_TMP}"
    write_sorted(tmp, table, data, compacted=True)
    os.replace(tmp, target)  # from here on readers take the merged file and skip the others
    fsync_dir(folder)
    if grace_s <= 0:
        for r in files:
            (folder / r.file_name()).unlink(missing_ok=True)
    return {
        "table": table,
        "day": folder.name.removeprefix("day="),
        "file": target.name,
        "files": len(files),
        "rows": data.num_rows,
    }


def _remove_covered(folder: Path, names: list[str], shown: list[str], grace_s: float) -> int:
    """Delete the files a merged file holds (left by a killed run, or kept for the grace),
    each once the merged file that holds it is ``grace_s`` old."""
    keep = set(shown)
    covered = [n for n in names if n not in keep and SourceRange.from_file_name(n) is not None]
    removed = 0
    now = time.time()
    for name in covered:
        if grace_s > 0:
            inner = SourceRange.from_file_name(name)
            holder = next(
                n
                for n in shown
                if (r := SourceRange.from_file_name(n)) is not None
                and r.partition == inner.partition
                and r.first <= inner.first
                and inner.last <= r.last
            )
            if now - os.stat(folder / holder).st_mtime < grace_s:
                continue
        (folder / name).unlink(missing_ok=True)
        removed += 1
    return removed


def _day_folders(table_folder: Path) -> list[Path]:
    try:
        return sorted(p for p in table_folder.iterdir() if p.name.startswith("day="))
    except FileNotFoundError:
        return []


def _expired(name: str, now_ms: int, retention_days: int) -> bool:
    """A ``day=YYYY-MM-DD`` folder whose Beijing day ended ``retention_days`` days ago."""
    try:
        start = day_start_ms(name.removeprefix("day="))
    except ValueError:
        return False  # not a partition we wrote
    return start + DAY_MS <= now_ms - retention_days * DAY_MS


def _expire(day_folder: Path) -> None:
    """Hide a whole day from readers in one rename, then delete it."""
    hidden = day_folder.with_name(EXPIRED_PREFIX + day_folder.name)
    os.replace(day_folder, hidden)
    fsync_dir(day_folder.parent)
    shutil.rmtree(hidden)


def _remove_expired_leftovers(table_folder: Path) -> None:
    """Finish deleting days a killed run had hidden."""
    try:
        leftovers = [p for p in table_folder.iterdir() if p.name.startswith(EXPIRED_PREFIX)]
    except FileNotFoundError:
        return
    for path in leftovers:
        shutil.rmtree(path)


@contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """One compaction at a time per archive (a second one waits)."""
    with open(folder / LOCK_FILE, "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
