"""What every archive query shares: the DuckDB session, the window rule, the refusal (issue 12).

Each call takes a cursor of one in-memory DuckDB database opened once per process: a new
connection costs ~30 ms, a cursor ~0.2 ms, and cursors may be used from any thread.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import duckdb
import orjson

from replay.layout import DAY_MS, SourceRange
from stream.eventtime import iso_ts, parse_ts
from stream.wire_values import PingError

# What reading a damaged archive raises (a Parquet file cut short under a final name, a file
# gone from under a query, an unreadable mount): DuckDB's own error when the scan fails before
# the first row, an OSError when it fails while an Arrow record-batch stream is being read
# (replay.presence streams; 47 of 200 reads of one damaged archive failed that way).
READ_ERRORS: tuple[type[BaseException], ...] = (duckdb.Error, OSError)

Interval = tuple[int, int]  # epoch ms, inclusive
Scope = dict[str, list[Interval]]  # vehicle -> the intervals a caller may see
MAX_WINDOW_MS = 31 * DAY_MS  # a month: beyond it an investigation narrows the window
# Time order of a vehicle's pings, ties broken by arrival (Kafka or embedded), as SQL.
ORDER = 'ts, coalesce("partition", -1), coalesce("offset", ingest, -1), "index"'

_DB: duckdb.DuckDBPyConnection | None = None


class ArchiveQueryError(ValueError):
    """A query the archive refuses (bad window, area, page size or cursor), with what to do."""


def cursor() -> duckdb.DuckDBPyConnection:
    """A fresh cursor (its own connection state) on the process's in-memory database."""
    global _DB
    if _DB is None:
        _DB = duckdb.connect()
    return _DB.cursor()


def window(from_ms: int | str, to_ms: int | str) -> tuple[int, int]:
    """``(start, end)`` epoch ms of an inclusive query window of at most :data:`MAX_WINDOW_MS`.

    Raises
    ------
    ArchiveQueryError
        A time that is not epoch ms or ISO 8601 with an offset, a reversed or too long window.

    Examples
    --------
    >>> window("2025-06-02T20:00:00+08:00", 1748901600000)
    (1748865600000, 1748901600000)
    """
    try:
        start, end = parse_ts(from_ms, "from"), parse_ts(to_ms, "to")
    except PingError as exc:
        raise ArchiveQueryError(
            f"{exc.detail}; give times as epoch milliseconds or ISO 8601 with an offset, "
            "e.g. 2025-06-02T20:00:00+08:00"
        ) from None
    if end < start:
        raise ArchiveQueryError(
            f"window ends before it starts ({iso_ts(end)} < {iso_ts(start)}); swap --from/--to"
        )
    if end - start > MAX_WINDOW_MS:
        raise ArchiveQueryError(
            f"window of {(end - start) / DAY_MS:.1f} days is longer than the "
            f"{MAX_WINDOW_MS // DAY_MS} allowed; split it into windows of at most a month"
        )
    return start, end


def folder(archive: str | os.PathLike) -> Path:
    """The archive directory (:class:`ArchiveQueryError` when it is not one)."""
    path = Path(archive)
    if not path.is_dir():
        raise ArchiveQueryError(
            f"archive {str(path)!r} is not a directory; pass --archive DIR or set "
            "LANDUN_ARCHIVE_DIR"
        )
    return path


def sql_list(files: list[str]) -> str:
    """A SQL list literal of file paths (ours, from a directory listing; quotes escaped)."""
    return "[" + ", ".join("'" + f.replace("'", "''") + "'" for f in files) + "]"


def source_order(filename: str) -> tuple[int, int]:
    """Where a file's rows came in the source: (partition or -1, first offset/ingest number).

    Rows of a later source range were written later, so of two versions of one alert or trip in
    different files the one from the later range is the newer (a vehicle's events share one
    Kafka partition; an embedded run has one sequence).
    """
    found = SourceRange.from_file_name(Path(filename).name)
    if found is None:
        return (-1, -1)
    return (-1 if found.partition is None else found.partition, found.first)


def latest_payloads(
    files: list[str],
    where: str,
    params: list[Any],
    final: Any,
) -> dict[str, dict]:
    """The newest version of each id among the rows of ``files`` matching ``where``.

    Newest: a final version (``final(payload)`` true: an alert with its end, a closed trip)
    over an open one, since a redelivery may write an open version again after the final one
    (``api.ports.supersedes``); then the later source range; then the later row in its file
    (the writer's sort is stable, so versions of one id keep their order).
    """
    if not files:
        return {}
    with cursor() as con:
        rows = con.execute(
            f"SELECT id, payload, filename, file_row_number FROM read_parquet({sql_list(files)}, "
            f"hive_partitioning=true, filename=true, file_row_number=true) WHERE {where}",
            params,
        ).fetchall()
    best: dict[str, tuple[tuple, dict]] = {}
    for ident, text, name, number in rows:
        payload = orjson.loads(text)
        key = (bool(final(payload)), source_order(name), number)
        if ident not in best or key > best[ident][0]:
            best[ident] = (key, payload)
    return {ident: payload for ident, (_, payload) in best.items()}


def pieces(start: int, end: int, vehicles, scope) -> list[tuple[str, int, int, int]] | None:
    """``(vehicle, k, lo, hi)``: the parts of ``[start, end]`` to read per vehicle, ``k`` numbering
    a vehicle's intervals; None when every vehicle is read whole.

    ``vehicles`` filters; ``scope`` (vehicle -> intervals) limits each vehicle to its intervals.

    Examples
    --------
    >>> pieces(0, 100, ["V1"], {"V1": [(50, 200), (10, 20)], "V2": [(0, 100)]})
    [('V1', 0, 10, 20), ('V1', 1, 50, 100)]
    >>> pieces(0, 100, ["V2"], None), pieces(0, 100, None, None)
    ([('V2', 0, 0, 100)], None)
    """
    if scope is None and vehicles is None:
        return None
    if scope is None:
        scope = {v: [(start, end)] for v in vehicles}
    wanted = None if vehicles is None else set(vehicles)
    return [
        (v, k, lo, hi)
        for v, intervals in sorted(scope.items())
        if wanted is None or v in wanted
        for k, (lo, hi) in enumerate(clip(intervals, start, end))
    ]


def clip(intervals: list[Interval], start: int, end: int) -> list[Interval]:
    """``intervals`` inside ``[start, end]``, merged where they touch, in order.

    Examples
    --------
    >>> clip([(50, 80), (0, 20), (10, 30), (200, 300)], 5, 100)
    [(5, 30), (50, 80)]
    """
    out: list[list[int]] = []
    for lo, hi in sorted((max(a, start), min(b, end)) for a, b in intervals):
        if lo > hi:
            continue
        if out and lo <= out[-1][1]:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    return [(lo, hi) for lo, hi in out]
