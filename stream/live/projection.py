"""The position record the live map shows, built the same way by its two writers.

The API's intake (``api.feed``, embedded demo) and the stream workers' live view
(``stream.live.view``) both turn an accepted ping into this record and colour a vehicle as in
violation from its alerts; they call these functions so that the map looks the same whichever
driver fills it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from stream.eventtime import parse_ts, to_iso
from stream.live.ports import Record

POSITION_STATES = ("on_trip", "loaded", "idle", "offline", "violation")
MOVING_KMH = 5.0
LOADED = ("half", "full")  # load sensor readings that mean a load on board
VIOLATION_MS = 10 * 60_000  # an alert without an end shows its vehicle red this long
OFFLINE_MS = 10 * 60_000  # silent this long (event time) = offline, as signal_lost


def violating_until(alert: Record) -> int:
    """Event time (epoch ms) until which the alert's vehicle is drawn as in violation: the
    alert's end, or ``VIOLATION_MS`` after its start while it has none.

    Examples
    --------
    >>> violating_until({"ts": 0, "ended_ts": None})
    600000
    >>> violating_until({"ts": "2025-06-01T20:00:00+08:00", "ended_ts": 1748779260000})
    1748779260000
    """
    if alert.get("ended_ts"):
        return parse_ts(alert["ended_ts"])
    return parse_ts(alert["ts"]) + VIOLATION_MS


def display_state(
    ts_ms: int,
    speed_kmh: float | None,
    loaded: str | None,
    violating: int = -1,
    state: str | None = None,
) -> str:
    """The state a position is drawn in (one of ``POSITION_STATES``).

    An explicit ``state`` wins; else ``violation`` up to the event time ``violating``
    (:func:`violating_until`), else ``loaded`` when half or full, else ``on_trip`` from
    ``MOVING_KMH`` on (the counters' moving, :func:`tally`), else ``idle``.

    Examples
    --------
    >>> display_state(1000, 30.0, None), display_state(1000, 30.0, "full")
    ('on_trip', 'loaded')
    >>> display_state(1000, 0.0, "full", violating=1000), display_state(1001, 0.0, None, 1000)
    ('violation', 'idle')
    """
    if state is not None:
        return state
    if ts_ms <= violating:
        return "violation"
    if loaded in LOADED:
        return "loaded"
    return "on_trip" if (speed_kmh or 0) >= MOVING_KMH else "idle"


def position_record(
    vehicle: str,
    ts_ms: int,
    lat: float,
    lng: float,
    *,
    speed_kmh: Any = None,
    heading: Any = None,
    loaded: str | None = None,
    district: str | None = None,
    kind: str | None = None,
    violating: int = -1,
    state: str | None = None,
) -> Record:
    """The live map's record of a vehicle's position (WGS-84, time as ISO +08:00).

    ``district`` and ``kind`` are the vehicle's (registry), None when unknown; ``violating``
    and ``state`` as in :func:`display_state`. ``loaded`` in the record is a flag (the load
    sensor says half or full), kept apart from ``state``: a loaded truck drawn in violation is
    still loaded, and the counters count it in both (issue 13).

    Examples
    --------
    >>> position_record("V1", 1748779200000, 31.123456789, 120.3, speed_kmh=30.0)["ts"]
    '2025-06-01T20:00:00+08:00'
    """
    return {
        "vehicle": vehicle,
        "district": district or None,
        "kind": kind or None,
        "ts": to_iso(ts_ms),
        "lat": round(lat, 7),
        "lng": round(lng, 7),
        "speed_kmh": speed_kmh,
        "heading": heading,
        "loaded": is_loaded(loaded),
        "state": display_state(ts_ms, speed_kmh, loaded, violating, state),
    }


def is_loaded(loaded: str | None) -> bool:
    """True when the load sensor reading says the body carries a load (half or full).

    >>> is_loaded("half"), is_loaded("empty"), is_loaded(None)
    (True, False, False)
    """
    return loaded in LOADED


COUNT_KEYS = ("total", "online", "offline", "moving", "parked", "loaded", "violating")


def tally(positions: Iterable[Record]) -> dict[str, Any]:
    """The live counters of a set of latest positions, as two splits and two flags.

    ``online + offline == total`` (offline: the projection's ``offline`` state);
    ``moving + parked == online`` (moving: ``speed_kmh`` of at least ``MOVING_KMH``);
    ``loaded`` and ``violating`` count online vehicles with that flag, a loaded truck in
    violation in both (issue 13: it counted only as 违规). A record written before the
    ``loaded`` flag existed counts as loaded when drawn ``loaded``. ``states`` holds the
    vehicles per drawn state (``POSITION_STATES``), apart: the state ``loaded`` is not the flag.

    Examples
    --------
    >>> rows = [
    ...     {"state": "violation", "speed_kmh": 30, "loaded": True},
    ...     {"state": "idle", "speed_kmh": 0, "loaded": False},
    ...     {"state": "offline", "speed_kmh": 50, "loaded": True},
    ... ]
    >>> counts = tally(rows)
    >>> [counts[k] for k in COUNT_KEYS], counts["states"]["violation"]
    ([3, 2, 1, 1, 1, 1, 1], 1)
    """
    counts: dict[str, Any] = dict.fromkeys(COUNT_KEYS, 0)
    states = dict.fromkeys(POSITION_STATES, 0)
    for p in positions:
        state = p["state"]
        states[state] = states.get(state, 0) + 1
        if state == "offline":
            continue
        counts["online"] += 1
        counts["moving"] += (p.get("speed_kmh") or 0) >= MOVING_KMH
        counts["loaded"] += p["loaded"] is True if "loaded" in p else state == "loaded"
        counts["violating"] += state == "violation"
    counts["offline"] = states["offline"]
    counts["total"] = counts["online"] + counts["offline"]
    counts["parked"] = counts["online"] - counts["moving"]
    counts["states"] = states
    return counts
