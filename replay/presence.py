"""Who was here: the vehicles that came into an area (a circle or a polygon) in a window, with
their closest approach, time inside, fixes, load and tipper (issue 12).

Answered from the H3 cells, exactly: the area's cover (``replay.areas``) selects the candidate
fixes in the cell-sorted ``cells`` copy; the exact test (WGS-84 ellipsoid distance, or shapely
for a polygon) keeps the ones inside; the time inside comes from the vehicle-sorted ``pings``
between each vehicle's first and last fix inside. ``tests/replay/test_queries*.py`` hold it to
a brute-force scan of every fix.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import numpy as np

from replay import areas, duck
from replay.areas import Area
from replay.duck import ORDER, Scope, folder, pieces, sql_list, window
from replay.layout import data_files, days_between
from replay.overlays import LOADED
from replay.rows import ACCEPTED
from stream.eventtime import iso_ts

# Fixes of the candidates' spans are read in Arrow batches of this many rows and judged one
# vehicle at a time: a 5 km circle over a month spans most of a city's pings, which as one
# Python list would not fit in memory (review R1, issue 12: never an out-of-memory).
BATCH = 65_536
_FIX_COLUMNS = ("vehicle", "k", "ts", "lat", "lng", "loaded", "lift")


def who_was_here(
    archive: str | os.PathLike,
    lat: float | None,
    lng: float | None,
    radius_m: float | None,
    from_ms: int | str,
    to_ms: int | str,
    *,
    polygon: dict | None = None,
    vehicles: list[str] | None = None,
    scope: Scope | None = None,
) -> list[dict[str, Any]]:
    """Vehicles with an accepted fix inside an area in a window, exactly.

    Served from the cell-sorted ``cells`` copy: the area's H3 cover (:mod:`replay.areas`) gives
    the candidate fixes, the exact test (ellipsoid distance for a circle, shapely for a polygon)
    keeps those inside. For the time inside, each candidate's accepted fixes between its first
    and last fix inside are read from ``pings`` (sorted by vehicle), so that a fix outside the
    area between two inside ones breaks the interval.

    Parameters
    ----------
    archive : path
        The archive directory.
    lat, lng, radius_m : float
        A circle: the centre (WGS-84 degrees) and metres, more than 0 and at most
        :data:`MAX_RADIUS_M`. Ignored (may be None) when ``polygon`` is given.
    from_ms, to_ms : int or str
        The window, inclusive: epoch ms or ISO 8601 with an offset; at most 31 days.
    polygon : dict, optional
        A GeoJSON Polygon geometry (WGS-84 ``[lng, lat]``) instead of the circle; at most
        50 km², 30 km across and 10,000 vertices. Its boundary counts as inside.
    vehicles : list of str, optional
        Only these vehicles (None: every vehicle).
    scope : dict, optional
        Only these vehicles, each only inside its intervals (a caller's access scope). A fix
        outside them is not read; time inside counts only between fixes of one interval.

    Returns
    -------
    list of dict
        One per vehicle, nearest first (then by vehicle id): ``vehicle``; ``closest_m`` (metres,
        rounded to 0.1; 0.0 for a polygon, where every hit has a fix inside); ``inside_s``: the
        sum of the intervals between consecutive accepted fixes of the vehicle (in the window,
        in time order) that are both inside, in seconds, so a single fix inside counts 0 and a
        gap with the vehicle inside at both ends counts in full; ``fixes`` inside;
        ``first``/``last``: ISO times of the first and last fix inside; ``loaded``: true if a
        fix inside reported ``half`` or ``full``, false if fixes inside reported only
        ``empty``, null if none reported; ``lift``: the same for the tipper (true if raised at
        a fix inside).

    Raises
    ------
    ArchiveQueryError
        A bad window (as :func:`track`), centre, radius or polygon.

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
    start, end = window(from_ms, to_ms)
    area: Area = areas.polygon(polygon) if polygon is not None else areas.circle(lat, lng, radius_m)
    base = folder(archive)
    parts = pieces(start, end, vehicles, scope)
    if parts == []:
        return []
    days = days_between(start, end)
    cell_files = data_files(base, "cells", days)
    if not cell_files:
        return []
    spans: dict[tuple[str, int], tuple[int, int]] = {}
    for near in _candidates(cell_files, area.cells(), start, end, parts):
        inside = area.inside(near["lat"], near["lng"])
        _spans(spans, near["vehicle"][inside], near["k"][inside], near["ts"][inside])
    if not spans:
        return []
    keys = list(spans)
    with duck.cursor() as con:
        reader = con.sql(
            f"SELECT p.vehicle, s.k, p.ts, p.lat, p.lng, p.loaded, p.lift FROM read_parquet("
            f"{sql_list(data_files(base, 'pings', days))}, hive_partitioning=true) p "
            "JOIN (SELECT unnest(?) AS vehicle, unnest(?) AS k, unnest(?) AS lo, unnest(?) AS hi) "
            "s ON p.vehicle = s.vehicle AND p.ts BETWEEN s.lo AND s.hi "
            f"WHERE p.verdict = ? ORDER BY p.vehicle, {ORDER.replace('ts', 'p.ts', 1)}",
            params=[
                [v for v, _ in keys],
                [k for _, k in keys],
                [spans[key][0] for key in keys],
                [spans[key][1] for key in keys],
                ACCEPTED,
            ],
        ).to_arrow_reader(BATCH)
        hits = [_visit(v, fixes, area) for v, fixes in _by_vehicle(reader)]
    hits.sort(key=lambda h: (h["closest_m"], h["vehicle"]))
    return hits


def _candidates(files, cells, start, end, pieces) -> Iterator[dict[str, np.ndarray]]:
    """The fixes of the cover's cells in the window (of the pieces, when given), as columns,
    :data:`BATCH` rows at a time."""
    sql = (
        f"SELECT c.vehicle, c.ts, c.lat, c.lng, {'w.k' if pieces else '0'} AS k "
        f"FROM read_parquet({sql_list(files)}, hive_partitioning=true) c "
    )
    params: list[Any] = []
    if pieces:
        sql += (
            "JOIN (SELECT unnest(?) AS vehicle, unnest(?) AS k, unnest(?) AS lo, "
            "unnest(?) AS hi) w ON c.vehicle = w.vehicle AND c.ts BETWEEN w.lo AND w.hi "
        )
        params += [list(col) for col in zip(*pieces, strict=True)]
    sql += "WHERE c.cell IN (SELECT unnest(?)) AND c.ts BETWEEN ? AND ?"
    params += [cells, start, end]
    names = ("vehicle", "ts", "lat", "lng", "k")
    with duck.cursor() as con:
        for batch in con.sql(sql, params=params).to_arrow_reader(BATCH):
            yield {n: batch.column(i).to_numpy(zero_copy_only=False) for i, n in enumerate(names)}


def _spans(spans: dict, vehicles: np.ndarray, pieces: np.ndarray, ts: np.ndarray) -> None:
    """Widen ``spans`` (first and last inside time per (vehicle, piece)) by these fixes."""
    for v, k, t in zip(vehicles.tolist(), pieces.tolist(), ts.tolist(), strict=True):
        lo, hi = spans.get((v, k), (t, t))
        spans[(v, k)] = (min(lo, t), max(hi, t))


def _by_vehicle(reader) -> Iterator[tuple[str, dict[str, list]]]:
    """``(vehicle, columns)`` of each vehicle's fixes from record batches sorted by vehicle:
    only one vehicle's fixes (and one batch) are held at a time."""
    current: str | None = None
    held: dict[str, list] = {c: [] for c in _FIX_COLUMNS[1:]}
    for batch in reader:
        cols = {c: batch.column(i).to_pylist() for i, c in enumerate(_FIX_COLUMNS)}
        vehicles = cols["vehicle"]
        start = 0
        while start < len(vehicles):
            end = start
            while end < len(vehicles) and vehicles[end] == vehicles[start]:
                end += 1
            if vehicles[start] != current:
                if current is not None:
                    yield current, held
                current, held = vehicles[start], {c: [] for c in _FIX_COLUMNS[1:]}
            for c in _FIX_COLUMNS[1:]:
                held[c].extend(cols[c][start:end])
            start = end
    if current is not None:
        yield current, held


def _visit(vehicle: str, fixes: dict[str, list], area: Area) -> dict:
    """The who-was-here record of one vehicle from its fixes (columns ``k``, ``ts``, ``lat``,
    ``lng``, ``loaded``, ``lift``) in time order."""
    ts = np.array(fixes["ts"], dtype=np.int64)
    lat = np.array(fixes["lat"], dtype=float)
    lng = np.array(fixes["lng"], dtype=float)
    piece = np.array(fixes["k"])
    dist = area.distance(lat, lng)
    inside = area.inside(lat, lng)
    both = inside[1:] & inside[:-1] & (piece[1:] == piece[:-1])
    rows = list(zip(fixes["loaded"], fixes["lift"], strict=True))
    sensed = [r for r, ok in zip(rows, inside, strict=True) if ok]
    return {
        "vehicle": vehicle,
        "closest_m": round(float(dist[inside].min()), 1),
        "inside_s": float(np.diff(ts)[both].sum()) / 1000.0,
        "fixes": int(inside.sum()),
        "first": iso_ts(int(ts[inside][0])),
        "last": iso_ts(int(ts[inside][-1])),
        "loaded": _any_state([r[0] for r in sensed], lambda s: s in LOADED),
        "lift": _any_state([r[1] for r in sensed], bool),
    }


def _any_state(values: list, raised: Any) -> bool | None:
    known = [v for v in values if v is not None]
    return None if not known else any(raised(v) for v in known)
