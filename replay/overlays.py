"""What a track page draws over the line: stops, alerts, fence events, trips, and the state of
each point (empty, loaded, violating) (issue 12, "Track JSON" in docs/formats.md).

A page's overlays are those dated within the page's *span*: from the window start (first page)
or just after the previous page's last point, to the page's last point (or the window end on
the last page). Spans of consecutive pages neither overlap nor leave a gap, so the pages of a
track together carry each stop, alert and fence event exactly once. Trips are listed on every
page their time overlaps (a trip is longer than a page; the map keys them by id).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from replay.duck import cursor, latest_payloads, sql_list
from replay.layout import data_files, days_between
from replay.window import LONGEST_MS
from stream.eventtime import iso_ts, parse_ts

# An alert or trip still open at a point may have started before the page: alerts and trips are
# read from LOOKBACK_MS before the span (an alert's evidence window, like a trip, spans a day at
# most: replay.window.LONGEST_MS).
LOOKBACK_MS = LONGEST_MS
LOADED = ("half", "full")
# The times a trip or round payload may carry, start first (stream.engine.trips / rounds).
_TRIP_TIMES = ("load_ts", "start_ts", "departed_ts", "unload_ts", "delivered_ts", "ts")

Interval = tuple[int, int]


@dataclass(frozen=True, slots=True)
class Overlays:
    """The overlay features of a page, its trips, and for the states of its points the alerts
    and the loaded spans of the trips around it."""

    features: list[dict[str, Any]]
    trips: list[dict[str, Any]]
    alerts: list[dict[str, Any]]
    carrying: list[Interval]


def page_overlays(
    archive: Path,
    vehicle: str,
    lo: int,
    hi: int,
    within: list[Interval] | None = None,
    points: Interval | None = None,
    districts: Collection[str] | None = None,
) -> Overlays:
    """The overlays of ``vehicle`` dated in ``[lo, hi]`` (and inside ``within`` when given),
    and the alerts open around the page's ``points`` (first and last time) for their states;
    with ``districts``, only the alerts raised there count (a caller's access scope).

    The span may be empty (``lo > hi``) while the page holds points: a page after a cut
    between two fixes of the same time starts with a point dated before its span.
    """
    if points is None:
        points = (lo, hi)
    around = (min(lo, points[0]), max(hi, points[1]))
    alerts = vehicle_alerts(archive, vehicle, around[0] - LOOKBACK_MS, around[1])
    if districts is not None:
        alerts = [a for a in alerts if a.get("district") in districts]
    every_trip = _trips(archive, vehicle, *around)
    carrying = [load_span(t) for t in every_trip]
    if lo > hi:
        return Overlays([], [], alerts, carrying)
    days = days_between(lo, hi)

    def shown(ts: int | None) -> bool:
        return ts is not None and lo <= ts <= hi and _inside(ts, within)

    def whole(stop: dict) -> bool:  # a scoped caller: the stop's end too (review R1)
        ended = stop["ended_ts"]
        return within is None or ended is None or _holds_any(within, stop["ts"], ended)

    features = [
        *(
            f
            for f in _stops(archive, vehicle, lo, hi, days)
            if shown(parse_ts(f["properties"]["ts"])) and whole(f["properties"])
        ),
        *(_alert_feature(a) for a in alerts if shown(parse_ts(a["ts"]))),
        *(
            f
            for f in _fence_events(archive, vehicle, lo, hi, days)
            if shown(parse_ts(f["properties"]["ts"]))
        ),
    ]
    trips = [t for t in every_trip if _overlaps(trip_span(t), lo, hi)]
    if within is not None:
        # a scoped caller gets a trip only when it lies wholly in what they may see: its payload
        # says where and when the truck loaded and unloaded (review R1: nothing beyond that)
        trips = [t for t in trips if any(_holds(a, b, trip_span(t)) for a, b in within)]
    trips.sort(key=lambda t: (trip_span(t)[0], t.get("id", "")))
    return Overlays(features, trips, alerts, carrying)


def vehicle_alerts(archive: Path, vehicle: str, lo: int, hi: int) -> list[dict[str, Any]]:
    """The latest version of each alert of ``vehicle`` that started in ``[lo, hi]``, by time."""
    files = data_files(archive, "alerts", days_between(lo, hi))
    found = latest_payloads(
        files, "vehicle = ? AND ts BETWEEN ? AND ?", [vehicle, lo, hi], _alert_final
    )
    return sorted(found.values(), key=lambda a: (parse_ts(a["ts"]), a["id"]))


def point_states(
    ts: list[int],
    loaded: list[str | None],
    alerts: list[dict],
    carrying: Sequence[Interval] = (),
) -> list[str]:
    """``violating`` while an alert is open (its ts to its ended_ts, or the point at its ts when
    it has no end), else ``loaded`` for ``half``/``full``, or for a point with no load reading
    inside a ``carrying`` span (:func:`load_span`: a truck without a load sensor carries its load
    from loading to unloading), else ``empty``.

    Examples
    --------
    >>> a = {"ts": "2025-06-02T21:00:10+08:00", "ended_ts": None}
    >>> t0 = 1748869200000  # 21:00:00
    >>> point_states([t0, t0 + 10_000, t0 + 20_000], ["full", "full", None], [a])
    ['loaded', 'violating', 'empty']
    >>> point_states([t0, t0 + 20_000], [None, "empty"], [], [(t0, t0 + 60_000)])
    ['loaded', 'empty']
    """
    times = np.asarray(ts, dtype=np.int64)
    violating = np.zeros(len(times), dtype=bool)
    for alert in alerts:
        start = parse_ts(alert["ts"])
        end = parse_ts(alert["ended_ts"]) if alert.get("ended_ts") else start
        violating |= (times >= start) & (times <= end)
    carried = np.zeros(len(times), dtype=bool)
    for start, end in carrying:
        carried |= (times >= start) & (times <= end)
    return [
        "violating" if bad else ("loaded" if load in LOADED or (load is None and held) else "empty")
        for bad, load, held in zip(violating.tolist(), loaded, carried.tolist(), strict=True)
    ]


def load_span(trip: dict[str, Any]) -> Interval:
    """When a trip carries its load: a muck trip from ``load_ts`` to ``unload_ts``, a kitchen or
    oil round from ``start_ts`` (its first collection) to ``delivered_ts``; without that end, an
    ``open`` trip carries on (to the end of time) and a closed one (unmatched) to its last time.

    Examples
    --------
    >>> load_span({"status": "delivered", "load_ts": 1000, "departed_ts": 2000, "unload_ts": 5000})
    (1000, 5000)
    >>> load_span({"status": "unmatched", "load_ts": 1000, "departed_ts": 2000})
    (1000, 2000)
    """
    start = trip.get("load_ts") or trip.get("start_ts")
    end = trip.get("unload_ts") or trip.get("delivered_ts")
    if start is None:
        return (0, -1)  # nothing carried
    if end is None:
        return (parse_ts(start), trip_span(trip)[1])
    return (parse_ts(start), parse_ts(end))


def trip_span(trip: dict[str, Any]) -> Interval:
    """From the trip's first to its last known time; an open trip runs on (to the end of time)."""
    times = [parse_ts(trip[k]) for k in _TRIP_TIMES if trip.get(k) is not None]
    if not times:
        return (0, 0)
    end = math.inf if trip.get("status") == "open" else max(times)
    return (min(times), end)  # type: ignore[return-value]


def _stops(archive: Path, vehicle: str, lo: int, hi: int, days: list[str]) -> list[dict]:
    rows = _rows(
        archive,
        "stops",
        days,
        "ts, ended_ts, duration_s, loaded, at_known_place, lat, lng",
        vehicle,
        lo,
        hi,
    )
    return [
        _point(
            lat,
            lng,
            {
                "kind": "stop",
                "ts": iso_ts(ts),
                "ended_ts": iso_ts(ended),
                "duration_s": duration,
                "loaded": loaded,
                "at_known_place": known,
            },
        )
        for ts, ended, duration, loaded, known, lat, lng in rows
    ]


def _fence_events(archive: Path, vehicle: str, lo: int, hi: int, days: list[str]) -> list[dict]:
    rows = _rows(
        archive, "fence_events", days, "fence, detect, kind, ts, lat, lng", vehicle, lo, hi
    )
    return [
        _point(
            lat,
            lng,
            {
                "kind": "fence_event",
                "fence": fence,
                "detect": detect,
                "fence_kind": kind,
                "ts": iso_ts(ts),
            },
        )
        for fence, detect, kind, ts, lat, lng in rows
    ]


def _alert_feature(alert: dict[str, Any]) -> dict[str, Any]:
    keys = ("id", "type", "severity", "ts", "district")
    return _point(
        alert.get("lat"), alert.get("lng"), {"kind": "alert"} | {k: alert.get(k) for k in keys}
    )


def _trips(archive: Path, vehicle: str, lo: int, hi: int) -> list[dict[str, Any]]:
    files = data_files(archive, "trips", days_between(lo - LOOKBACK_MS, hi))
    found = latest_payloads(
        files,
        "vehicle = ? AND ts BETWEEN ? AND ?",
        [vehicle, lo - LOOKBACK_MS, hi],
        lambda t: t.get("status") != "open",
    )
    return list(found.values())


def _rows(archive: Path, table: str, days: list[str], columns: str, vehicle: str, lo, hi):
    files = data_files(archive, table, days)
    if not files:
        return []
    with cursor() as con:
        return con.execute(
            f"SELECT {columns} FROM read_parquet({sql_list(files)}, hive_partitioning=true) "
            "WHERE vehicle = ? AND ts BETWEEN ? AND ? ORDER BY ts",
            [vehicle, lo, hi],
        ).fetchall()


def _point(lat: float | None, lng: float | None, properties: dict[str, Any]) -> dict[str, Any]:
    geometry = None if lat is None or lng is None else {"type": "Point", "coordinates": [lng, lat]}
    return {"type": "Feature", "geometry": geometry, "properties": properties}


def _alert_final(alert: dict[str, Any]) -> bool:
    return alert.get("ended_ts") is not None


def _inside(ts: int, within: list[Interval] | None) -> bool:
    return within is None or any(a <= ts <= b for a, b in within)


def _holds_any(within: list[Interval], first: str, last: str) -> bool:
    span = (parse_ts(first), parse_ts(last))
    return any(_holds(a, b, span) for a, b in within)


def _holds(lo: int, hi: int, span: Interval) -> bool:
    return lo <= span[0] and span[1] <= hi


def _overlaps(span: Interval, lo: int, hi: int) -> bool:
    return span[0] <= hi and span[1] >= lo
