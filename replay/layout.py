"""The archive's on-disk layout: tables, columns, partitions and file names (issue 12).

The contract is written out in docs/formats.md, "Archive"; this module is its single source in
code. An archive is a directory of Hive-partitioned Parquet files::

    DIR/<table>/day=YYYY-MM-DD/<source range>.parquet

``day`` is the Beijing-time (+08:00) calendar day of the row's time, so a night shift's
20:00-06:00 spans two partitions and a query reads only the days its window touches. Columns are
plain (integers, floats, strings, booleans; times int64 epoch ms): DuckDB, Spark or Trino read
the files with no landun code.

The file name is the source range the rows came from: ``p{partition}-{first}-{last}.parquet``
for Kafka offsets, ``s{first}-{last}.parquet`` for the ingest sequence of an embedded run. A
batch re-written after a crash therefore replaces the same files instead of adding a copy.
Files in flight are ``.<name>.tmp`` in the same directory; readers list ``*.parquet`` only.
Compaction (``replay.compact``) merges final files into one named after their whole range
(``p3-0-999`` for ``p3-0-499`` and ``p3-500-999``); a reader skips a file whose range lies inside
another file's of the same source (:func:`visible`), so a listing between the merged file's
rename and the deletes counts each row once.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa

from stream.eventtime import BEIJING_OFFSET_MS

# Resolution of the ``cell`` column (issue 12). Res 9 cells are ~0.1 km² (edge ~174 m): a 500 m
# who-was-here circle is covered by a disk of ~4 rings (~61 cells), few enough for an IN-list
# that prunes row groups of the cell-sorted copy, and a cell holds few enough pings per day that
# the exact distance filter reads little beyond the circle. Res 8 (edge ~460 m) reads ~7x the
# area for a 300 m query; res 10 makes a 2 km disk ~1,000 cells.
CELL_RESOLUTION = 9
DAY_MS = 86_400_000
PARQUET_SUFFIX = ".parquet"
TMP_SUFFIX = ".tmp"

# Parquet settings (issue 12, measured by bench/replay.py on road-grid tracks). A batch file is
# short-lived (compaction merges it): fast zstd, small row groups. A compacted file is written
# once and read for months: zstd level 9 (the raw JSON shrinks ~25 % from level 3; the level
# costs compaction time, not the write path), row groups of 64k rows (16k rows cost ~13 % more
# bytes; a vehicle-day track still decodes one or two groups), and DELTA_BINARY_PACKED for the
# time-like integers, which rise within a vehicle (ts: ~0.6 instead of ~2.5 bytes per ping).
# All are standard Parquet encodings that DuckDB, Spark and Trino read.
ROW_GROUP_ROWS = 16 * 1024
BATCH_ZSTD_LEVEL = 1
COMPACT_ROW_GROUP_ROWS = 64 * 1024
COMPACT_ZSTD_LEVEL = 9
DELTA_COLUMNS = frozenset({"ts", "received", "seq"})

_LOADED = pa.string()  # "empty" | "half" | "full" | null

PINGS = pa.schema(
    [
        ("vehicle", pa.string()),
        ("ts", pa.int64()),
        ("lat", pa.float64()),
        ("lng", pa.float64()),
        ("speed_kmh", pa.float64()),
        ("heading", pa.float64()),
        ("loaded", _LOADED),
        ("lift", pa.bool_()),
        ("cover_open", pa.bool_()),
        ("acc", pa.bool_()),
        ("backfill", pa.bool_()),
        ("source", pa.string()),
        ("seq", pa.int64()),
        ("received", pa.int64()),
        ("cell", pa.int64()),
        ("verdict", pa.string()),
        ("detail", pa.string()),
        ("partition", pa.int32()),
        ("offset", pa.int64()),
        ("index", pa.int32()),
        ("ingest", pa.int64()),
        ("raw", pa.string()),
    ]
)
"""Every ping as received, one row each, sorted by (vehicle, ts) within a file."""

CELLS = pa.schema(
    [
        ("cell", pa.int64()),
        ("ts", pa.int64()),
        ("vehicle", pa.string()),
        ("lat", pa.float64()),
        ("lng", pa.float64()),
        ("loaded", _LOADED),
        ("lift", pa.bool_()),
    ]
)
"""The accepted pings again, few columns, sorted by (cell, ts): who-was-here reads these."""

ALERTS = pa.schema(
    [
        ("id", pa.string()),
        ("version", pa.string()),
        ("type", pa.string()),
        ("vehicle", pa.string()),
        ("district", pa.string()),
        ("ts", pa.int64()),
        ("payload", pa.string()),
    ]
)
"""Every version of every alert: ``version`` is a hash of ``payload`` (the alert's JSON)."""

TRIPS = pa.schema(
    [
        ("id", pa.string()),
        ("version", pa.string()),
        ("vehicle", pa.string()),
        ("kind", pa.string()),
        ("status", pa.string()),
        ("ts", pa.int64()),
        ("payload", pa.string()),
    ]
)
"""Every version of every trip (muck) or round (kitchen/oil)."""

FENCE_EVENTS = pa.schema(
    [
        ("vehicle", pa.string()),
        ("fence", pa.string()),
        ("detect", pa.string()),
        ("kind", pa.string()),
        ("ts", pa.int64()),
        ("lat", pa.float64()),
        ("lng", pa.float64()),
        ("late", pa.bool_()),
    ]
)
"""Fence enter/exit/cross events (Tile38's vocabulary, as the engine emits them)."""

STOPS = pa.schema(
    [
        ("vehicle", pa.string()),
        ("ts", pa.int64()),
        ("ended_ts", pa.int64()),
        ("lat", pa.float64()),
        ("lng", pa.float64()),
        ("duration_s", pa.float64()),
        ("loaded", pa.bool_()),  # the engine's stop: loaded at any of its pings (issue 12)
        ("at_known_place", pa.bool_()),
    ]
)
"""Stops the engine reported (at least its ``stop_report_ms``), dated by their start."""

FENCES = pa.schema(
    [
        ("id", pa.string()),
        ("ts", pa.int64()),
        ("version", pa.string()),
        ("deleted", pa.bool_()),
        ("payload", pa.string()),
    ]
)
"""Every version of every fence (the GeoJSON Feature as text; ``deleted`` and no payload for a
removal), dated by when it took effect: evidence packs and replays use the fences *as they were*."""

REGISTRY = pa.schema(
    [
        ("section", pa.string()),
        ("id", pa.string()),
        ("ts", pa.int64()),
        ("version", pa.string()),
        ("deleted", pa.bool_()),
        ("payload", pa.string()),
    ]
)
"""Every version of every registry entry (``section``: vehicles, permits, contracts; the entry
as in registry.json, as text), dated by when it took effect."""

TABLES: dict[str, pa.Schema] = {
    "pings": PINGS,
    "cells": CELLS,
    "alerts": ALERTS,
    "trips": TRIPS,
    "fence_events": FENCE_EVENTS,
    "stops": STOPS,
    "fences": FENCES,
    "registry": REGISTRY,
}
# The sort order of each table's files (issue 12: by vehicle for tracks, by cell for areas).
SORT_KEYS: dict[str, tuple[str, ...]] = {
    "pings": ("vehicle", "ts", "partition", "offset", "index", "ingest"),
    "cells": ("cell", "ts", "vehicle"),
    "alerts": ("vehicle", "ts", "id"),
    "trips": ("vehicle", "ts", "id"),
    "fence_events": ("vehicle", "ts", "fence"),
    "stops": ("vehicle", "ts"),
    "fences": ("id", "ts", "version"),
    "registry": ("section", "id", "ts", "version"),
}

# The Kafka topic (``{ns}.<name>``) each table's ``p{partition}-{first}-{last}`` files take
# their offsets from (issue 12): ``DIR/_committed.json`` (``replay.committed``) is keyed by it,
# and a file is final once its ``last`` is below the committed next offset of that topic.
SOURCE_TOPIC: dict[str, str] = {
    "pings": "pings",
    "cells": "pings",
    "alerts": "alerts",
    "trips": "events",
    "fence_events": "events",
    "stops": "events",
    "fences": "fences",
    "registry": "registry",
}


def parquet_options(table: str, *, compacted: bool) -> dict:
    """Keyword arguments of ``pyarrow.parquet.write_table`` for a file of ``table``.

    Examples
    --------
    >>> opts = parquet_options("pings", compacted=True)
    >>> opts["row_group_size"], opts["column_encoding"]["ts"], "ts" in opts["use_dictionary"]
    (65536, 'DELTA_BINARY_PACKED', False)
    >>> parquet_options("pings", compacted=False)["compression_level"]
    1
    """
    if not compacted:
        return {"compression": "zstd", "compression_level": BATCH_ZSTD_LEVEL,
                "row_group_size": ROW_GROUP_ROWS}  # fmt: skip
    names = TABLES[table].names
    delta = [n for n in names if n in DELTA_COLUMNS]
    return {
        "compression": "zstd",
        "compression_level": COMPACT_ZSTD_LEVEL,
        "row_group_size": COMPACT_ROW_GROUP_ROWS,
        "use_dictionary": [n for n in names if n not in DELTA_COLUMNS],
        "column_encoding": dict.fromkeys(delta, "DELTA_BINARY_PACKED"),
    }


_RANGE = re.compile(r"^(?:p(?P<partition>\d+)-|s)(?P<first>\d+)-(?P<last>\d+)\.parquet$")


@dataclass(frozen=True, slots=True)
class SourceRange:
    """Where a batch of rows came from: Kafka offsets of one partition, or an ingest sequence.

    Attributes
    ----------
    first, last : int
        The first and last offset (or ingest sequence number) of the batch, inclusive.
    partition : int or None
        The Kafka partition; None for an embedded run (``landun detect``/``demo``).

    Examples
    --------
    >>> SourceRange(100, 199, partition=3).file_name()
    'p3-100-199.parquet'
    >>> SourceRange(0, 4999).file_name()
    's0-4999.parquet'
    >>> SourceRange.from_file_name('p3-100-199.parquet')
    SourceRange(first=100, last=199, partition=3)
    """

    first: int
    last: int
    partition: int | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.first <= self.last:
            raise ValueError(f"source range {self.first}-{self.last}: need 0 <= first <= last")
        if self.partition is not None and self.partition < 0:
            raise ValueError(f"partition {self.partition}: need >= 0")

    def file_name(self) -> str:
        """The Parquet file name of this range (the same for every table and day)."""
        head = "s" if self.partition is None else f"p{self.partition}-"
        return f"{head}{self.first}-{self.last}{PARQUET_SUFFIX}"

    @classmethod
    def from_file_name(cls, name: str) -> SourceRange | None:
        """The range a file name carries, or None for a name that is not an archive file."""
        m = _RANGE.match(name)
        if m is None:
            return None
        part = m.group("partition")
        first, last = int(m.group("first")), int(m.group("last"))
        if last < first:  # not a name the writer makes: a stray file, not ours
            return None
        return cls(first, last, None if part is None else int(part))

    def overlaps(self, other: SourceRange) -> bool:
        """Same source (partition, or both embedded) and offsets in common."""
        return (
            self.partition == other.partition
            and self.first <= other.last
            and other.first <= self.last
        )


def day_of(ms: int) -> str:
    """The Beijing-time day (``YYYY-MM-DD``) of epoch ms: the ``day`` partition value.

    Examples
    --------
    >>> day_of(1748869200000)  # 2025-06-02T21:00:00+08:00
    '2025-06-02'
    >>> day_of(1748880000000)  # 2025-06-03T00:00:00+08:00
    '2025-06-03'
    """
    return (datetime(1970, 1, 1) + timedelta(days=(ms + BEIJING_OFFSET_MS) // DAY_MS)).strftime(
        "%Y-%m-%d"
    )


def day_start_ms(day: str) -> int:
    """Epoch ms of 00:00 Beijing time on ``day`` (``YYYY-MM-DD``).

    Examples
    --------
    >>> day_start_ms("2025-06-03")  # 2025-06-02T16:00:00Z
    1748880000000
    """
    moment = datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000) - BEIJING_OFFSET_MS


def days_between(from_ms: int, to_ms: int) -> list[str]:
    """The ``day`` partitions a window ``[from_ms, to_ms]`` touches, in order.

    Examples
    --------
    >>> days_between(1748869200000, 1748901600000)  # 21:00 to 06:00 the next morning
    ['2025-06-02', '2025-06-03']
    """
    first = (from_ms + BEIJING_OFFSET_MS) // DAY_MS
    last = (to_ms + BEIJING_OFFSET_MS) // DAY_MS
    return [day_of(d * DAY_MS - BEIJING_OFFSET_MS) for d in range(first, last + 1)]


def day_dir(archive: str | os.PathLike, table: str, day: str) -> Path:
    """``archive/table/day=YYYY-MM-DD``: the Hive-style partition directory.

    Examples
    --------
    >>> day_dir("/data/archive", "pings", "2025-06-02").as_posix()
    '/data/archive/pings/day=2025-06-02'
    """
    if table not in TABLES:
        raise ValueError(f"unknown archive table {table!r}; tables: {', '.join(TABLES)}")
    return Path(archive) / table / f"day={day}"


def data_files(archive: str | os.PathLike, table: str, days: list[str]) -> list[str]:
    """The finished Parquet files of ``table`` for ``days`` (temp files and strays left out).

    Missing day directories are no error: a day without data has no files.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     folder = day_dir(tmp, "pings", "2025-06-02")
    ...     folder.mkdir(parents=True)
    ...     for name in ("s0-9.parquet", ".s10-19.parquet.42.tmp", "notes.txt"):
    ...         _ = (folder / name).write_bytes(b"")
    ...     [Path(f).name for f in data_files(tmp, "pings", ["2025-06-01", "2025-06-02"])]
    ['s0-9.parquet']
    """
    out: list[str] = []
    for day in days:
        folder = day_dir(archive, table, day)
        try:
            names = os.listdir(folder)
        except FileNotFoundError:
            continue
        out.extend(str(folder / n) for n in visible(names))
    return out


def visible(names: list[str]) -> list[str]:
    """The archive files among ``names`` (one directory) that a reader takes, sorted.

    A file whose source range lies inside another listed file's range of the same source is
    left out: compaction (``replay.compact``) renames a merged file into place before it
    deletes the files it merged, so a listing in between sees both and must count the rows
    once (issue 12). Ranges of one source otherwise never overlap (the writer removes
    overlapping leftovers before it renames), so this leaves every other file alone.

    Examples
    --------
    >>> visible(["p1-0-9.parquet", "p1-10-19.parquet", "p1-0-19.parquet", "p2-5-9.parquet",
    ...          "s0-3.parquet", ".p1-0-29.parquet.7.compact.tmp"])
    ['p1-0-19.parquet', 'p2-5-9.parquet', 's0-3.parquet']
    """
    ranges = [(r, n) for n in names if (r := SourceRange.from_file_name(n)) is not None]
    # By source, then first offset up, last offset down: a range is covered when one before it
    # (same source, first no later) reaches at least as far. One pass, n log n for a day of
    # thousands of uncompacted batch files.
    ranges.sort(key=lambda rn: (rn[0].partition is not None, rn[0].partition or 0,
                                rn[0].first, -rn[0].last))  # fmt: skip
    out: list[str] = []
    source: object = object()
    reach = -1
    for r, name in ranges:
        if r.partition != source:
            source, reach = r.partition, -1
        if r.last > reach:
            out.append(name)
            reach = r.last
    return sorted(out)
