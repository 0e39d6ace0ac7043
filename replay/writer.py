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
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from replay.layout import DAY_MS, TMP_SUFFIX, SourceRange, day_dir, day_of
from replay.rows import ACCEPTED, event_rows
from replay.tables import SORT_KEYS, TABLES, parquet_options
from stream.eventtime import BEIJING_OFFSET_MS

PING_COLUMNS = tuple(TABLES["pings"].names)
CELL_COLUMNS = tuple(TABLES["cells"].names)
_PING_STRUCT = pa.struct(list(TABLES["pings"]))


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
    return write_columns(archive, source, ping_table(pings), events)


def ping_table(rows: Iterable[dict[str, Any]]) -> pa.Table:
    """The ``pings`` rows as one Arrow table of the archive schema (missing keys are null).

    Arrow reads the dicts itself (as a struct array): the write path spent most of its Python
    time transposing rows into columns before (issue 12: 200,000 pings/s per core).
    """
    rows = rows if isinstance(rows, list) else list(rows)
    return pa.Table.from_struct_array(pa.array(rows, type=_PING_STRUCT))


def write_columns(
    archive: str | os.PathLike,
    source: SourceRange,
    pings: pa.Table | None = None,
    events: Iterable[tuple[str, dict]] = (),
) -> list[Path]:
    """:func:`write_batch` for pings already in columns: the columnar entry point (issue 12).

    ``pings`` is an Arrow table with the ``pings`` columns (any order; missing ones are null),
    as a consumer that decodes records column-wise builds it; the ``cells`` copy and the day
    split are computed on the columns. Same files, same atomicity, same idempotence.
    """
    tables: dict[str, pa.Table] = {}
    if pings is not None and pings.num_rows:
        pings = _conform(pings, TABLES["pings"])
        tables["pings"] = pings
        keep = pc.and_(
            pc.equal(pings["verdict"], ACCEPTED),
            pc.and_(pc.is_valid(pings["cell"]), pc.is_valid(pings["ts"])),
        )
        tables["cells"] = pings.filter(pc.fill_null(keep, False)).select(list(CELL_COLUMNS))
    for table, rows in event_rows(events).items():
        if rows:
            schema = TABLES[table]
            tables[table] = pa.table({n: [r.get(n) for r in rows] for n in schema.names}, schema)
    staged: list[tuple[Path, Path]] = []
    try:
        for table, data in tables.items():
            for day, part in _by_day(data).items():
                staged.append(_stage(archive, table, day, source, part))
    except BaseException:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        raise
    for tmp, final in staged:
        _drop_overlapping(final.parent, source, keep=tmp.name)
        os.replace(tmp, final)
    for folder in {final.parent for _, final in staged}:
        fsync_dir(folder)
    return [final for _, final in staged]


def _conform(data: pa.Table, schema: pa.Schema) -> pa.Table:
    """``data`` with exactly ``schema``'s columns, in order and type (missing ones null)."""
    if data.schema.equals(schema):
        return data
    cols = [
        data[f.name].cast(f.type) if f.name in data.column_names else pa.nulls(len(data), f.type)
        for f in schema
    ]
    return pa.table(cols, schema=schema)


def _by_day(data: pa.Table) -> dict[str, pa.Table]:
    """Rows by their ``day`` partition: the Beijing day of ``ts``, else of ``received`` (if the
    table has it), else 1970-01-01 (a record that did not parse and carries no receive time)."""
    if not data.num_rows:
        return {}
    ms = data["ts"]
    if "received" in data.column_names:
        ms = pc.coalesce(ms, data["received"])
    ms = pc.fill_null(ms, 0).to_numpy()
    index = (ms + BEIJING_OFFSET_MS) // DAY_MS
    first = int(index[0])
    if (index == first).all():  # the usual batch: one day
        return {day_of(first * DAY_MS - BEIJING_OFFSET_MS): data}
    out: dict[str, pa.Table] = {}
    for d in np.unique(index).tolist():
        out[day_of(d * DAY_MS - BEIJING_OFFSET_MS)] = data.filter(pa.array(index == d))
    return out


def _stage(
    archive: str | os.PathLike,
    table: str,
    day: str,
    source: SourceRange,
    data: pa.Table,
) -> tuple[Path, Path]:
    """Write ``data`` sorted to a fsynced temp file beside its final name; return both."""
    folder = day_dir(archive, table, day)
    _make_dir(folder)
    final = folder / source.file_name()
    tmp = folder / f".{final.name}.{os.getpid()}{TMP_SUFFIX}"
    write_sorted(tmp, table, data, compacted=False)
    return tmp, final


def write_sorted(path: Path, table: str, data: pa.Table, *, compacted: bool) -> None:
    """Write ``data`` sorted by ``table``'s sort key to ``path`` and fsync it (removed on any
    failure). ``compacted`` picks the long-lived file settings (``tables.parquet_options``)."""
    data = data.sort_by([(k, "ascending") for k in SORT_KEYS[table]])  # nulls last
    try:
        with open(path, "wb") as f:
            pq.write_table(data, f, **parquet_options(table, compacted=compacted))
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        path.unlink(missing_ok=True)
        raise


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
        fsync_dir(new.parent)


def fsync_dir(folder: Path) -> None:
    """fsync a directory: its new, renamed and removed entries survive a power cut."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
