"""The archive's on-disk layout: directories, day partitions and file names (issue 12).

The contract is written out in docs/formats.md, "Archive"; this module and ``replay.tables``
(columns, sort orders, Parquet settings) are its single source in code. An archive is a
directory of Hive-partitioned Parquet files::

    DIR/<table>/day=YYYY-MM-DD/<source range>.parquet

``day`` is the Beijing-time (+08:00) calendar day of the row's time, so a night shift's
20:00-06:00 spans two partitions and a query reads only the days its window touches.

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

from replay.tables import TABLES
from stream.eventtime import BEIJING_OFFSET_MS

DAY_MS = 86_400_000
PARQUET_SUFFIX = ".parquet"
TMP_SUFFIX = ".tmp"

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
