"""What an evidence pack reads from the archive: an alert's versions, trips, a vehicle's pings.

Issue 12. Alerts are few, so an alert is looked up in every day partition; trips and pings only in
the days a window touches. Versions come back in the order they were archived: by file (the
source range the writer named it after: partition, then first offset or ingest number), then by
row within the file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson

from replay import duck
from replay.layout import DAY_MS, SourceRange, data_files, days_between

LATE_REACH_MS = DAY_MS  # how far past a pack's range a fix that arrived before its end may lie
# A ping's place in arrival order (contracts): Kafka partition, offset, index; embedded ingest.
_ARRIVAL = (
    'row(coalesce("partition", -1), coalesce("offset", -1), coalesce("index", 0), '
    "coalesce(ingest, -1))"
)


def all_days(archive: str | os.PathLike, table: str) -> list[str]:
    """Every ``day`` partition of ``table``, in order."""
    try:
        names = os.listdir(Path(archive) / table)
    except FileNotFoundError:
        return []
    return sorted(n.removeprefix("day=") for n in names if n.startswith("day="))


def alert_versions(archive: str | os.PathLike, alert_id: str) -> list[dict[str, Any]]:
    """Every archived version of an alert (its JSON payload), oldest first, each version once.

    Examples
    --------
    >>> import tempfile
    >>> from replay.layout import SourceRange
    >>> from replay.writer import write_batch
    >>> a = {"id": "a1", "type": "overspeed", "vehicle": "V1", "ts": 1748869200000,
    ...      "ended_ts": None}
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     _ = write_batch(tmp, SourceRange(0, 9), events=[("alert", a)])
    ...     _ = write_batch(tmp, SourceRange(10, 19), events=[("alert", {**a, "ended_ts": 1})])
    ...     [v["ended_ts"] for v in alert_versions(tmp, "a1")]
    [None, 1]
    """
    files = data_files(archive, "alerts", all_days(archive, "alerts"))
    rows = _rows(files, "SELECT payload, version, filename, file_row_number", "id = ?", [alert_id])
    seen: set[str] = set()
    out: list[dict[str, Any]] = []
    for payload, version, *_ in rows:
        if version not in seen:
            seen.add(version)
            out.append(orjson.loads(payload))
    return out


def trip_versions(
    archive: str | os.PathLike, trip_id: str, from_ms: int, to_ms: int
) -> list[dict[str, Any]]:
    """Every archived version of a trip or round dated (by its start) within the window's days."""
    files = data_files(archive, "trips", days_between(from_ms, to_ms))
    rows = _rows(files, "SELECT payload, version, filename, file_row_number", "id = ?", [trip_id])
    return [orjson.loads(r[0]) for r in rows]


def vehicle_trips(
    archive: str | os.PathLike, vehicle: str, from_ms: int, to_ms: int
) -> dict[str, list[dict[str, Any]]]:
    """The versions of each trip or round of ``vehicle`` started within ``[from_ms, to_ms]``."""
    files = data_files(archive, "trips", days_between(from_ms, to_ms))
    rows = _rows(
        files,
        "SELECT payload, id, filename, file_row_number",
        "vehicle = ? AND ts BETWEEN ? AND ?",
        [vehicle, from_ms, to_ms],
    )
    out: dict[str, list[dict[str, Any]]] = {}
    for payload, trip_id, *_ in rows:
        out.setdefault(trip_id, []).append(orjson.loads(payload))
    return out


def vehicle_pings(
    archive: str | os.PathLike, vehicle: str, from_ms: int, to_ms: int
) -> list[dict[str, Any]]:
    """The vehicle's ping rows (every verdict) with event time in the window, in arrival order,
    and the later ones that arrived before the last of those.

    A row without a parsed time (a ``bad_field`` record whose vehicle id parsed) is taken when
    its receive time is in the window. A blind-area batch arrives after live fixes dated past
    the window; the engine judged the batch against that live stream, so those fixes (up to
    :data:`LATE_REACH_MS` past the window) are taken too. Arrival order is the contracts' replay
    order: ``partition NULLS FIRST, offset, index, ingest``.
    """
    files = data_files(archive, "pings", days_between(from_ms, to_ms + LATE_REACH_MS))
    if not files:
        return []
    within = "(ts BETWEEN $lo AND $hi OR (ts IS NULL AND received BETWEEN $lo AND $hi))"
    sql = (
        f"WITH mine AS (SELECT *, {_ARRIVAL} AS arrival FROM read_parquet($files, "
        "hive_partitioning=false) WHERE vehicle = $vehicle), "
        f"last AS (SELECT max(arrival) AS arrival FROM mine WHERE {within}) "
        "SELECT raw, received, ts, lat, lng, verdict, speed_kmh, loaded, lift FROM mine "
        f"WHERE {within} OR (ts > $hi AND ts <= $late "
        "AND arrival < (SELECT arrival FROM last)) ORDER BY arrival"
    )
    params = {"files": files, "vehicle": vehicle, "lo": from_ms, "hi": to_ms}
    with duck.cursor() as con:
        rows = con.execute(sql, {**params, "late": to_ms + LATE_REACH_MS}).fetchall()
    keys = ("raw", "received", "ts", "lat", "lng", "verdict", "speed_kmh", "loaded", "lift")
    return [dict(zip(keys, r, strict=True)) for r in rows]


def _rows(files: list[str], select: str, where: str, params: list[Any]) -> list[tuple]:
    """Rows of ``files`` matching ``where``, in archive order (file by source range, then row);
    the last two selected columns must be ``filename, file_row_number``."""
    if not files:
        return []
    sql = (
        f"{select} FROM read_parquet(?, hive_partitioning=false, filename=true, "
        f"file_row_number=true) WHERE {where}"
    )
    with duck.cursor() as con:
        rows = con.execute(sql, [files, *params]).fetchall()
    rank = {f: (_day(f), _order(Path(f).name)) for f in files}
    return sorted(rows, key=lambda r: (rank[r[-2]], r[-1]))


def _day(path: str) -> str:
    return Path(path).parent.name


def _order(name: str) -> tuple[int, int]:
    source = SourceRange.from_file_name(name)
    assert source is not None  # data_files lists only such names
    return (-1 if source.partition is None else source.partition, source.first)
