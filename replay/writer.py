"""Write a batch of pings and events to the archive, atomically and idempotently (issue 12).

One call, :func:`write_batch`, writes everything that came from one source range (Kafka offsets
of one partition, or an embedded run's ingest sequence): for each table and each Beijing day the
batch touches, one Parquet file named after the range (``replay.layout``). Each file is written
to a temp name in its own directory, fsynced, renamed over its final name, and the directory
fsynced: a reader sees a whole file or none, and after :func:`write_batch` returns the data
survives a power cut. A Kafka consumer commits its offsets only then.

Idempotence: re-writing the same range (a redelivery after a crash) replaces the same files.
Before renaming, the writer also removes the files and leftover temp files of the *same source*
whose ranges overlap the new one: they were written by an earlier life of the writer and never
committed, so Kafka delivers their records again (from the committed offset on, in order). A
redelivered batch cut at other offsets than the first time thus never leaves two copies of a
row. A record's day comes from its own time, so an overlapping file can only sit in a day
directory the new batch also writes: the writer lists no other directory.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from replay.layout import (
    SORT_KEYS,
    TABLES,
    TMP_SUFFIX,
    SourceRange,
    day_dir,
    day_of,
)
from replay.rows import ACCEPTED, event_rows

# Row groups small enough that the cell-sorted copy prunes well on ``cell`` min/max statistics
# and a vehicle-day track reads one or two groups (16k rows: a vehicle-day at 10 s is ~8,600);
# zstd for the bytes-per-ping target (issue 12).
ROW_GROUP_ROWS = 16 * 1024
COMPRESSION = "zstd"
CELL_COLUMNS = tuple(TABLES["cells"].names)


def write_batch(
    archive: str | os.PathLike,
    source: SourceRange,
    pings: Iterable[dict[str, Any]] = (),
    events: Iterable[tuple[str, dict]] = (),
) -> list[Path]:
    """Write one source range's ping rows and engine events to the archive, durably.

    Parameters
    ----------
    archive : path
        The archive directory (created if missing).
    source : SourceRange
        Where the batch came from; names every file written.
    pings : iterable of dict
        Rows of ``replay.rows.ping_row`` (keys: the ``pings`` columns; missing ones are null).
    events : iterable of (kind, payload)
        Engine events of the batch (``alert``, ``trip``, ``fence``, ``stop``; others skipped).

    Returns
    -------
    list of Path
        The files written (one per table and day with rows), all durable.

    Examples
    --------
    >>> import tempfile
    >>> from replay.rows import ping_row
    >>> from stream.ping import parse_ping
    >>> raw = '{"vehicle":"V1","ts":1748869200000,"lat":31.49,"lng":120.31}'
    >>> row = ping_row(parse_ping(raw), "accepted", raw=raw, ingest=0)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     paths = write_batch(tmp, SourceRange(0, 0), [row])
    ...     sorted(p.relative_to(tmp).as_posix() for p in paths)
    ['cells/day=2025-06-02/s0-0.parquet', 'pings/day=2025-06-02/s0-0.parquet']
    """
    pings = list(pings)
    by_table: dict[str, list[dict[str, Any]]] = {"pings": pings}
    by_table["cells"] = [
        {c: r.get(c) for c in CELL_COLUMNS}
        for r in pings
        if r.get("verdict") == ACCEPTED and r.get("cell") is not None and r.get("ts") is not None
    ]
    by_table.update(event_rows(events))
    staged: list[tuple[Path, Path]] = []
    try:
        for table, rows in by_table.items():
            for day, day_rows in _by_day(rows).items():
                staged.append(_stage(archive, table, day, source, day_rows))
    except BaseException:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        raise
    for tmp, final in staged:
        _drop_overlapping(final.parent, source, keep=tmp.name)
        os.replace(tmp, final)
    for folder in {final.parent for _, final in staged}:
        _fsync_dir(folder)
    return [final for _, final in staged]


def _by_day(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Rows by their ``day`` partition: the Beijing day of ``ts``, else of ``received``, else
    1970-01-01 (a record that did not parse and carries no receive time)."""
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        ms = row.get("ts")
        if ms is None:
            ms = row.get("received")
        out[day_of(ms if ms is not None else 0)].append(row)
    return out


def _stage(
    archive: str | os.PathLike,
    table: str,
    day: str,
    source: SourceRange,
    rows: list[dict[str, Any]],
) -> tuple[Path, Path]:
    """Write ``rows`` sorted to a fsynced temp file beside its final name; return both."""
    schema = TABLES[table]
    data = pa.table({n: [r.get(n) for r in rows] for n in schema.names}, schema=schema)
    data = data.sort_by([(k, "ascending") for k in SORT_KEYS[table]])  # nulls last
    folder = day_dir(archive, table, day)
    _make_dir(folder)
    final = folder / source.file_name()
    tmp = folder / f".{final.name}.{os.getpid()}{TMP_SUFFIX}"
    try:
        with open(tmp, "wb") as f:
            pq.write_table(data, f, row_group_size=ROW_GROUP_ROWS, compression=COMPRESSION)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp, final


def _drop_overlapping(folder: Path, source: SourceRange, keep: str) -> None:
    """Remove this source's uncommitted leftovers in ``folder`` that overlap ``source``: data
    files of other ranges (the same name is replaced by the rename) and temp files."""
    for name in os.listdir(folder):
        if name == keep or name == source.file_name():
            continue
        base = name
        if name.startswith(".") and name.endswith(TMP_SUFFIX):
            base = name[1:].rsplit(".", 2)[0]  # ".p3-1-9.parquet.<pid>.tmp" -> "p3-1-9.parquet"
        old = SourceRange.from_file_name(base)
        if old is not None and old.overlaps(source):
            (folder / name).unlink(missing_ok=True)


def _make_dir(folder: Path) -> None:
    """Create ``folder`` and fsync each parent a new directory entry was added to."""
    missing = []
    path = folder
    while not path.exists():
        missing.append(path)
        path = path.parent
    for new in reversed(missing):
        try:
            new.mkdir()
        except FileExistsError:  # another writer (another partition) made it meanwhile
            continue
        _fsync_dir(new.parent)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
