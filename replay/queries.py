"""Investigation queries over the archive, on DuckDB: a vehicle's track, who was here (issue 12).

Both read only the ``day`` partitions their window touches (``replay.layout.data_files``) and
only accepted pings (rejected ones stay in the archive for the record, never on a map). Windows
and pages are bounded: a query never reads more than :data:`MAX_WINDOW_MS` of time, a track page
holds at most :data:`MAX_PAGE` points, and a bad request raises :class:`ArchiveQueryError` (a
``ValueError``) saying what to change, which the CLI and REST layers turn into a message / 4xx.

Each call takes a cursor of one in-memory DuckDB database opened once per process: a new
connection costs ~30 ms, a cursor ~0.2 ms, and cursors may be used from any thread.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import duckdb
import h3
import numpy as np

from geofence.metric import distance_m
from replay.layout import CELL_RESOLUTION, DAY_MS, data_files, days_between
from replay.rows import ACCEPTED
from stream.ping import PingError, iso_ts, parse_ts

DEFAULT_PAGE = 2_000
MAX_PAGE = 10_000  # points per track page: a vehicle-day at 10 s is ~8,600
MAX_WINDOW_MS = 31 * DAY_MS  # a month: beyond it an investigation narrows the window
MAX_RADIUS_M = 5_000.0  # a 5 km circle is ~1,700 res-9 cells; a district needs --polygon
_LOADED = ("half", "full")
_ORDER = 'ts, coalesce("partition", -1), coalesce("offset", ingest, -1), "index"'


_DB: duckdb.DuckDBPyConnection | None = None


def _cursor() -> duckdb.DuckDBPyConnection:
    """A fresh cursor (its own connection state) on the process's in-memory database."""
    global _DB
    if _DB is None:
        _DB = duckdb.connect()
    return _DB.cursor()


class ArchiveQueryError(ValueError):
    """A query the archive refuses (bad window, radius, page size or cursor), with what to do."""


def track(
    archive: str | os.PathLike,
    vehicle: str,
    from_ms: int | str,
    to_ms: int | str,
    limit: int = DEFAULT_PAGE,
    cursor: str | None = None,
) -> dict[str, Any]:
    """One vehicle's accepted positions in a window, in time order, one page at a time.

    Parameters
    ----------
    archive : path
        The archive directory.
    vehicle : str
        The vehicle id.
    from_ms, to_ms : int or str
        The window, inclusive: epoch ms or ISO 8601 with an offset; at most 31 days.
    limit : int, default 2000
        Points per page, 1 to :data:`MAX_PAGE`.
    cursor : str, optional
        ``properties.next`` of the previous page, to get the following one.

    Returns
    -------
    dict
        A GeoJSON Feature in the MF-JSON style: ``geometry`` a ``LineString`` of ``[lng, lat]``
        (a ``MultiPoint`` when the page has fewer than two points) and ``properties``:
        ``vehicle``, ``datetimes`` (ISO 8601 +08:00, one per point), ``loaded`` and ``lift``
        (one per point, null when not reported), ``next`` (a cursor, or null on the last page).

    Raises
    ------
    ArchiveQueryError
        A malformed or reversed window, one longer than 31 days, a bad limit or cursor.

    Examples
    --------
    >>> import tempfile
    >>> from replay.layout import SourceRange
    >>> from replay.rows import ping_row
    >>> from replay.writer import write_batch
    >>> from stream.ping import Ping
    >>> rows = [ping_row(Ping("V1", 1748869200000 + 10_000 * k, 31.49, 120.31 + 0.001 * k),
    ...                  "accepted", raw="{}", ingest=k) for k in range(3)]
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     _ = write_batch(tmp, SourceRange(0, 2), rows)
    ...     page = track(tmp, "V1", "2025-06-02T21:00:00+08:00", "2025-06-02T22:00:00+08:00", 2)
    ...     rest = track(tmp, "V1", 1748869200000, 1748872800000, 2, page["properties"]["next"])
    >>> page["properties"]["datetimes"]
    ['2025-06-02T21:00:00+08:00', '2025-06-02T21:00:10+08:00']
    >>> rest["geometry"], rest["properties"]["next"]
    ({'type': 'MultiPoint', 'coordinates': [[120.312, 31.49]]}, None)
    """
    start, end = _window(from_ms, to_ms)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
        raise ArchiveQueryError(
            f"limit {limit!r}: must be an integer from 1 to {MAX_PAGE}; page through longer "
            "tracks with the returned cursor"
        )
    after = _read_cursor(cursor)
    files = data_files(_folder(archive), "pings", days_between(start, end))
    rows: list[tuple] = []
    if files:
        sql = (
            f"SELECT ts, lat, lng, loaded, lift, {_ORDER} FROM read_parquet({_list(files)}, "
            "hive_partitioning=true) WHERE vehicle = ? AND verdict = ? AND ts BETWEEN ? AND ?"
        )
        params: list[Any] = [vehicle, ACCEPTED, start, end]
        if after is not None:
            sql += f" AND ({_ORDER}) > (?, ?, ?, ?)"
            params += list(after)
        sql += f" ORDER BY {_ORDER} LIMIT {limit + 1}"
        with _cursor() as con:
            rows = con.execute(sql, params).fetchall()
    more = len(rows) > limit
    rows = rows[:limit]
    coords = [[r[2], r[1]] for r in rows]
    nxt = ":".join(str(v) for v in rows[-1][5:]) if more else None  # the last (ts, arrival)
    shape = "LineString" if len(coords) >= 2 else "MultiPoint"  # a line needs two positions
    return {
        "type": "Feature",
        "geometry": {"type": shape, "coordinates": coords},
        "properties": {
            "vehicle": vehicle,
            "datetimes": [iso_ts(r[0]) for r in rows],
            "loaded": [r[3] for r in rows],
            "lift": [r[4] for r in rows],
            "next": nxt,
        },
    }


def who_was_here(
    archive: str | os.PathLike,
    lat: float,
    lng: float,
    radius_m: float,
    from_ms: int | str,
    to_ms: int | str,
) -> list[dict[str, Any]]:
    """Vehicles with an accepted fix within ``radius_m`` of a point in a window, exactly.

    Served from the cell-sorted ``cells`` copy: the H3 disk covering the circle gives the
    candidate fixes, the exact distance (WGS-84 ellipsoid) keeps those inside. For the time
    inside, each candidate's accepted fixes between its first and last fix inside are read from
    ``pings`` (sorted by vehicle), so that a fix outside the circle between two inside ones
    breaks the interval.

    Parameters
    ----------
    archive : path
        The archive directory.
    lat, lng : float
        The centre, WGS-84 degrees.
    radius_m : float
        Metres, more than 0 and at most :data:`MAX_RADIUS_M`.
    from_ms, to_ms : int or str
        The window, inclusive: epoch ms or ISO 8601 with an offset; at most 31 days.

    Returns
    -------
    list of dict
        One per vehicle, nearest first (then by vehicle id): ``vehicle``; ``closest_m`` (metres,
        rounded to 0.1); ``inside_s``: the sum of the intervals between consecutive accepted
        fixes of the vehicle (in the window, in time order) that are both inside, in seconds, so
        a single fix inside counts 0 and a gap with the vehicle inside at both ends counts in
        full; ``fixes`` inside; ``first``/``last``: ISO times of the first and last fix inside;
        ``loaded``: true if a fix inside reported ``half`` or ``full``, false if fixes inside
        reported only ``empty``, null if none reported; ``lift``: the same for the tipper
        (true if raised at a fix inside).

    Raises
    ------
    ArchiveQueryError
        A bad window (as :func:`track`), centre or radius.

    Examples
    --------
    >>> import tempfile
    >>> from replay.layout import SourceRange
    >>> from replay.rows import ping_row
    >>> from replay.writer import write_batch
    >>> from stream.ping import Ping
    >>> t0 = 1748869200000
    >>> pings = [Ping("V1", t0, 31.49, 120.31, loaded="full"),
    ...          Ping("V1", t0 + 60_000, 31.4901, 120.31, loaded="full"),
    ...          Ping("V2", t0, 31.60, 120.40)]
    >>> rows = [ping_row(p, "accepted", raw="{}", ingest=k) for k, p in enumerate(pings)]
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     _ = write_batch(tmp, SourceRange(0, 2), rows)
    ...     hits = who_was_here(tmp, 31.49, 120.31, 300, t0 - 3_600_000, t0 + 3_600_000)
    >>> [(h["vehicle"], h["closest_m"], h["inside_s"], h["loaded"]) for h in hits]
    [('V1', 0.0, 60.0, True)]
    """
    start, end = _window(from_ms, to_ms)
    lat, lng, radius_m = _circle(lat, lng, radius_m)
    folder = _folder(archive)
    days = days_between(start, end)
    cell_files = data_files(folder, "cells", days)
    if not cell_files:
        return []
    cells = disk_cells(lat, lng, radius_m)
    with _cursor() as con:
        near = con.execute(
            f"SELECT vehicle, ts, lat, lng FROM read_parquet({_list(cell_files)}, "
            "hive_partitioning=true) WHERE cell IN (SELECT unnest(?)) AND ts BETWEEN ? AND ?",
            [cells, start, end],
        ).fetchnumpy()
        inside = distance_m(lat, lng, near["lat"], near["lng"]) <= radius_m
        spans = _spans(near["vehicle"][inside], near["ts"][inside])
        if not spans:
            return []
        fixes = con.execute(
            f"SELECT p.vehicle, p.ts, p.lat, p.lng, p.loaded, p.lift FROM read_parquet("
            f"{_list(data_files(folder, 'pings', days))}, hive_partitioning=true) p "
            "JOIN (SELECT unnest(?) AS vehicle, unnest(?) AS lo, unnest(?) AS hi) s "
            "ON p.vehicle = s.vehicle AND p.ts BETWEEN s.lo AND s.hi "
            f"WHERE p.verdict = ? ORDER BY p.vehicle, {_ORDER.replace('ts', 'p.ts', 1)}",
            [list(spans), [s[0] for s in spans.values()], [s[1] for s in spans.values()], ACCEPTED],
        ).fetchall()
    hits = [_visit(v, rows, lat, lng, radius_m) for v, rows in _group(fixes).items()]
    hits.sort(key=lambda h: (h["closest_m"], h["vehicle"]))
    return hits


def disk_cells(lat: float, lng: float, radius_m: float) -> list[int]:
    """The H3 cells (``CELL_RESOLUTION``, int64) that cover every point within ``radius_m``.

    A point within r of the centre lies in a cell whose centre is within r + 2e of the centre
    cell's (e: the cell edge, equal to its circumradius); cells k rings away have centres at
    least 1.5·e·k apart (the hexagon's inradius is e·√3/2, neighbour centres e·√3 apart), so k =
    ceil((r + 2e) / 1.5e) rings suffice; 10 % more allows for the grid's distortion.

    Examples
    --------
    >>> len(disk_cells(31.49, 120.31, 500))  # 4 rings
    61
    """
    centre = h3.latlng_to_cell(lat, lng, CELL_RESOLUTION)
    edge = math.sqrt(2.0 * h3.cell_area(centre, "m^2") / (3.0 * math.sqrt(3.0)))
    k = math.ceil(1.1 * (radius_m + 2.0 * edge) / (1.5 * edge))
    return [h3.str_to_int(c) for c in h3.grid_disk(centre, k)]


def _spans(vehicles: np.ndarray, ts: np.ndarray) -> dict[str, tuple[int, int]]:
    """First and last inside time per vehicle."""
    spans: dict[str, tuple[int, int]] = {}
    for v, t in zip(vehicles.tolist(), ts.tolist(), strict=True):
        lo, hi = spans.get(v, (t, t))
        spans[v] = (min(lo, t), max(hi, t))
    return spans


def _group(rows: list[tuple]) -> dict[str, list[tuple]]:
    out: dict[str, list[tuple]] = {}
    for row in rows:
        out.setdefault(row[0], []).append(row)
    return out


def _visit(vehicle: str, rows: list[tuple], lat: float, lng: float, radius_m: float) -> dict:
    """The who-was-here record of one vehicle from its fixes in time order."""
    ts = np.array([r[1] for r in rows], dtype=np.int64)
    dist = np.asarray(distance_m(lat, lng, [r[2] for r in rows], [r[3] for r in rows]))
    inside = dist <= radius_m
    both = inside[1:] & inside[:-1]
    sensed = [r for r, ok in zip(rows, inside, strict=True) if ok]
    return {
        "vehicle": vehicle,
        "closest_m": round(float(dist[inside].min()), 1),
        "inside_s": float(np.diff(ts)[both].sum()) / 1000.0,
        "fixes": int(inside.sum()),
        "first": iso_ts(int(ts[inside][0])),
        "last": iso_ts(int(ts[inside][-1])),
        "loaded": _any_state([r[4] for r in sensed], lambda s: s in _LOADED),
        "lift": _any_state([r[5] for r in sensed], bool),
    }


def _any_state(values: list, raised: Any) -> bool | None:
    known = [v for v in values if v is not None]
    return None if not known else any(raised(v) for v in known)


def _window(from_ms: int | str, to_ms: int | str) -> tuple[int, int]:
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


def _circle(lat: Any, lng: Any, radius_m: Any) -> tuple[float, float, float]:
    try:
        lat, lng, radius_m = float(lat), float(lng), float(radius_m)
    except (TypeError, ValueError):
        raise ArchiveQueryError(
            f"lat {lat!r}, lng {lng!r}, radius {radius_m!r}: need numbers (WGS-84 degrees, metres)"
        ) from None
    if not (-90 <= lat <= 90 and -180 <= lng <= 180):
        raise ArchiveQueryError(f"lat {lat}, lng {lng}: not a WGS-84 position (lat first)")
    if not 0 < radius_m <= MAX_RADIUS_M:
        raise ArchiveQueryError(
            f"radius {radius_m} m: must be more than 0 and at most {MAX_RADIUS_M:.0f} m; "
            "for a larger area query several circles or a polygon"
        )
    return lat, lng, radius_m


def _read_cursor(cursor: str | None) -> tuple[int, int, int, int] | None:
    if cursor is None:
        return None
    try:
        parts = tuple(int(p) for p in str(cursor).split(":"))
    except ValueError:
        parts = ()
    if len(parts) != 4:
        raise ArchiveQueryError(
            f"cursor {cursor!r} is not one a track page returned; start again without a cursor"
        )
    return parts  # type: ignore[return-value]


def _folder(archive: str | os.PathLike) -> Path:
    folder = Path(archive)
    if not folder.is_dir():
        raise ArchiveQueryError(
            f"archive {str(folder)!r} is not a directory; pass --archive DIR or set "
            "LANDUN_ARCHIVE_DIR"
        )
    return folder


def _list(files: list[str]) -> str:
    """A SQL list literal of file paths (ours, from a directory listing; quotes escaped)."""
    return "[" + ", ".join("'" + f.replace("'", "''") + "'" for f in files) + "]"
