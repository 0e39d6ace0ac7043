"""Investigation queries over the archive, on DuckDB: a vehicle's track with what happened along
it, who was here, stops, one alert (issue 12).

Every query reads only the ``day`` partitions its window touches (``replay.layout.data_files``)
and only accepted pings (rejected ones stay in the archive for the record, never on a map).
Windows, pages and areas are bounded: a query never reads more than :data:`MAX_WINDOW_MS` of
time, a track page holds at most :data:`MAX_PAGE` points, a stops answer at most
:data:`MAX_STOPS`, and a bad request raises :class:`ArchiveQueryError` (a ``ValueError``) saying
what to change, which the CLI and REST layers turn into a message / 422.

Access scope (issue 12: a district officer sees a vehicle registered elsewhere only around an
alert raised in their district) reaches the queries as plain intervals: ``within`` (track) and
``scope`` (who-was-here, stops), a vehicle → the intervals of the window the caller may see. The
rule itself is the API's (``api/routes/replay.py``, ``replay.access``).
"""

from __future__ import annotations

import os
from collections.abc import Collection
from pathlib import Path
from typing import Any

import numpy as np

from geofence.metric import distance_m
from replay import duck
from replay.areas import MAX_RADIUS_M, disk_cells  # noqa: F401 - re-exported
from replay.duck import (  # noqa: F401 - ArchiveQueryError, MAX_WINDOW_MS: re-exported
    MAX_WINDOW_MS,
    ORDER,
    ArchiveQueryError,
    Interval,
    Scope,
    clip,
    folder,
    latest_payloads,
    pieces,
    sql_list,
    window,
)
from replay.layout import DAY_MS, data_files, days_between
from replay.overlays import page_overlays, point_states
from replay.presence import who_was_here  # noqa: F401 - re-exported
from replay.rows import ACCEPTED
from stream.eventtime import iso_ts

DEFAULT_PAGE = 2_000
MAX_PAGE = 10_000  # points per track page: a vehicle-day at 10 s is ~8,600
MAX_STOPS = 10_000  # a company-month of stops; beyond it narrow the window or the vehicles


def track(
    archive: str | os.PathLike,
    vehicle: str,
    from_ms: int | str,
    to_ms: int | str,
    limit: int = DEFAULT_PAGE,
    cursor: str | None = None,
    *,
    within: list[Interval] | None = None,
    districts: Collection[str] | None = None,
) -> dict[str, Any]:
    """One vehicle's accepted positions in a window with what happened along them, by pages.

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
        ``next`` of the previous page, to get the following one.
    within : list of (from_ms, to_ms), optional
        Only points and overlays inside these intervals (the caller's access scope); the
        window is clipped to their hull.
    districts : collection of str, optional
        Only alerts raised in these districts are overlaid and colour points ``violating``
        (the caller's access scope: alerts of other districts are not theirs to see).

    Returns
    -------
    dict
        The Track JSON of docs/formats.md: a GeoJSON FeatureCollection with ``vehicle``,
        ``from``, ``to`` (the window, ISO 8601 +08:00), ``next`` (a cursor, or null on the last
        page), ``features``: first the track (``LineString`` of ``[lng, lat]``, a ``MultiPoint``
        below two points; properties ``kind`` "track", ``vehicle``, and per point
        ``datetimes``, ``loaded``, ``lift``, ``speed_kmh`` (reported, else implied by the
        previous fix, null for the first), ``state`` (``empty`` | ``loaded`` | ``violating``:
        :func:`replay.overlays.point_states`)),
        then Point features of ``kind`` ``stop``, ``alert``, ``fence_event`` dated in the page's
        span (:mod:`replay.overlays`); and ``trips``: the trip payloads the span overlaps.

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
    ...     rest = track(tmp, "V1", 1748869200000, 1748872800000, 2, page["next"])
    >>> line = page["features"][0]["properties"]
    >>> line["datetimes"], line["speed_kmh"], line["state"]
    (['2025-06-02T21:00:00+08:00', '2025-06-02T21:00:10+08:00'], [None, 34.2], ['empty', 'empty'])
    >>> rest["features"][0]["geometry"], rest["next"]
    ({'type': 'MultiPoint', 'coordinates': [[120.312, 31.49]]}, None)
    """
    start, end = window(from_ms, to_ms)
    _check_limit(limit)
    after = _read_cursor(cursor, start, end)
    if within is not None:
        within = clip(within, start, end)
        if within:
            start, end = min(a for a, _ in within), max(b for _, b in within)
    rows, previous = (
        _track_rows(folder(archive), vehicle, start, end, limit, after, within)
        if within != []
        else ([], None)
    )
    more = len(rows) > limit
    rows = rows[:limit]
    nxt = ":".join(str(v) for v in rows[-1][6:]) if more else None  # the last (ts, arrival)
    lo = start if after is None else after[0] + 1  # just after the previous page's last point
    hi = rows[-1][0] if more else end
    points = (rows[0][0], rows[-1][0]) if rows else None
    extra = page_overlays(Path(archive), vehicle, lo, hi, within, points, districts)
    ts = [r[0] for r in rows]
    line = {
        "kind": "track",
        "vehicle": vehicle,
        "datetimes": [iso_ts(t) for t in ts],
        "loaded": [r[3] for r in rows],
        "lift": [r[4] for r in rows],
        "speed_kmh": _speeds(rows, previous),
        "state": point_states(ts, [r[3] for r in rows], extra.alerts, extra.carrying),
    }
    coords = [[r[2], r[1]] for r in rows]
    shape = "LineString" if len(coords) >= 2 else "MultiPoint"  # a line needs two positions
    return {
        "type": "FeatureCollection",
        "vehicle": vehicle,
        "from": iso_ts(start),
        "to": iso_ts(end),
        "next": nxt,
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": shape, "coordinates": coords},
                "properties": line,
            },
            *extra.features,
        ],
        "trips": extra.trips,
    }


def _track_rows(archive: Path, vehicle, start, end, limit, after, within):
    """The page's rows ``(ts, lat, lng, loaded, lift, speed, *order)`` and the row before it.

    After a cursor the query starts *at* the cursor's row (``>=``): that row, the previous
    page's last, gives the first point's implied speed, so pages join up as one long page.
    """
    files = data_files(archive, "pings", days_between(start, end))
    if not files:
        return [], None
    sql = (
        f"SELECT ts, lat, lng, loaded, lift, speed_kmh, {ORDER} FROM read_parquet("
        f"{sql_list(files)}, hive_partitioning=true) "
        "WHERE vehicle = ? AND verdict = ? AND ts BETWEEN ? AND ?"
    )
    params: list[Any] = [vehicle, ACCEPTED, start, end]
    if within is not None:
        sql += " AND (" + " OR ".join(["ts BETWEEN ? AND ?"] * len(within)) + ")"
        params += [t for pair in within for t in pair]
    if after is not None:
        sql += f" AND ({ORDER}) >= (?, ?, ?, ?)"
        params += list(after)
    sql += f" ORDER BY {ORDER} LIMIT {limit + 2}"
    with duck.cursor() as con:
        rows = con.execute(sql, params).fetchall()
    previous = None
    if after is not None and rows and tuple(rows[0][6:]) == after:
        previous, rows = rows[0], rows[1:]
    return rows[: limit + 1], previous


def _speeds(rows: list[tuple], previous: tuple | None) -> list[float | None]:
    """Reported km/h, else the speed implied by the previous fix (0.1 km/h), else null.

    Vectorised: a vehicle-day page is ~8,600 points, and one distance call per point cost
    ~0.4 s where the page's query costs ~50 ms.
    """
    if not rows:
        return []
    chain = ([previous] if previous is not None else []) + rows
    ts = np.array([r[0] for r in chain], dtype=np.int64)
    lat = np.array([r[1] for r in chain], dtype=float)
    lng = np.array([r[2] for r in chain], dtype=float)
    metres = distance_m(lat[:-1], lng[:-1], lat[1:], lng[1:])
    dt = np.diff(ts)
    with np.errstate(divide="ignore", invalid="ignore"):
        implied = np.where(dt > 0, np.round(metres / dt * 3600.0, 1), np.nan).tolist()
    if previous is None:
        implied = [float("nan"), *implied]
    return [
        row[5] if row[5] is not None else (None if speed != speed else speed)
        for row, speed in zip(rows, implied, strict=True)
    ]


def stops(
    archive: str | os.PathLike,
    from_ms: int | str,
    to_ms: int | str,
    *,
    vehicles: list[str],
    scope: Scope | None = None,
) -> list[dict[str, Any]]:
    """The stops the engine reported for ``vehicles`` that overlap a window, in time order.

    Parameters
    ----------
    archive : path
        The archive directory.
    from_ms, to_ms : int or str
        The window, inclusive: epoch ms or ISO 8601 with an offset; at most 31 days.
    vehicles : list of str
        The vehicles (a company's are resolved by the caller from the registry).
    scope : dict, optional
        Only these vehicles' stops overlapping their intervals (a caller's access scope).

    Returns
    -------
    list of dict
        ``vehicle``, ``ts``, ``ended_ts`` (ISO 8601 +08:00; null while open), ``duration_s``,
        ``lat``, ``lng``, ``loaded``, ``at_known_place``; by ``ts`` then vehicle.

    Raises
    ------
    ArchiveQueryError
        A bad window, or more than :data:`MAX_STOPS` stops (narrow the window or vehicles).
    """
    start, end = window(from_ms, to_ms)
    base = folder(archive)
    parts = pieces(start, end, vehicles, scope) or []
    # a stop is dated by its start: one that began the day before may still overlap
    files = data_files(base, "stops", days_between(start - DAY_MS, end))
    if not parts or not files:
        return []
    with duck.cursor() as con:
        rows = con.execute(
            "SELECT DISTINCT s.vehicle, s.ts, s.ended_ts, s.duration_s, s.lat, s.lng, s.loaded, "
            f"s.at_known_place FROM read_parquet({sql_list(files)}, hive_partitioning=true) s "
            "JOIN (SELECT unnest(?) AS vehicle, unnest(?) AS lo, unnest(?) AS hi) w "
            "ON s.vehicle = w.vehicle AND s.ts <= w.hi AND coalesce(s.ended_ts, s.ts) >= w.lo "
            f"ORDER BY s.ts, s.vehicle LIMIT {MAX_STOPS + 1}",
            [[p[0] for p in parts], [p[2] for p in parts], [p[3] for p in parts]],
        ).fetchall()
    if len(rows) > MAX_STOPS:
        raise ArchiveQueryError(
            f"more than {MAX_STOPS} stops in the window; narrow the window or the vehicles"
        )
    keys = ("vehicle", "ts", "ended_ts", "duration_s", "lat", "lng", "loaded", "at_known_place")
    out = [dict(zip(keys, r, strict=True)) for r in rows]
    for stop in out:
        stop["ts"], stop["ended_ts"] = iso_ts(stop["ts"]), iso_ts(stop["ended_ts"])
    return out


def alert(archive: str | os.PathLike, alert_id: str) -> dict[str, Any] | None:
    """The latest version of one alert (its JSON payload) from the archive, or None.

    Scans the ``alerts`` table of every day (alerts are few); latest as in
    :func:`replay.duck.latest_payloads` (an ended version over an open one).
    """
    base = folder(archive)
    try:
        days = sorted(p.name[4:] for p in (base / "alerts").iterdir() if p.name[:4] == "day=")
    except FileNotFoundError:
        return None
    found = latest_payloads(
        data_files(base, "alerts", days),
        "id = ?",
        [str(alert_id)],
        lambda a: a.get("ended_ts") is not None,
    )
    return found.get(str(alert_id))


def _check_limit(limit: Any) -> None:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
        raise ArchiveQueryError(
            f"limit {limit!r}: must be an integer from 1 to {MAX_PAGE}; page through longer "
            "tracks with the returned cursor"
        )


def _read_cursor(cursor: str | None, start: int, end: int) -> tuple[int, int, int, int] | None:
    """The cursor's (ts, partition, offset, index). A page's ``next`` is its last point, so its
    time lies in the window: one crafted by hand outside it (or beyond int64) is refused, as it
    would date the overlay span back to 1970 or overflow (review R1, issue 12)."""
    if cursor is None:
        return None
    try:
        parts = tuple(int(p) for p in str(cursor).split(":"))
    except ValueError:
        parts = ()
    if len(parts) != 4 or not start <= parts[0] <= end or any(abs(p) >= 2**63 for p in parts):
        raise ArchiveQueryError(
            f"cursor {cursor!r} is not one a track page returned; start again without a cursor"
        )
    return parts  # type: ignore[return-value]
