"""Plain archive rows from pings, verdicts and engine events (issue 12).

The writer (``replay.writer``) takes plain dicts keyed by the columns of ``replay.layout``; this
module builds them from what the live and embedded paths hold: a parsed :class:`~stream.ping.Ping`
(or none, for a record that did not parse), the engine's verdict, the raw record and where it
arrived; and the engine's ``(kind, payload)`` events. Keeping the writer on plain rows lets the
Kafka consumer, ``landun detect --archive`` and the tests feed it alike.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

import h3
import orjson
from h3.api.basic_int import latlng_to_cell as _latlng_to_cell

from replay.tables import CELL_RESOLUTION
from stream.eventtime import parse_ts
from stream.ping import Ping

ACCEPTED = "accepted"
# Engine event kinds and the archive table each goes to (``rejected`` events are not archived
# as events: the rejected ping's own row carries the reason in ``verdict``).
EVENT_TABLES = {"alert": "alerts", "trip": "trips", "fence": "fence_events", "stop": "stops"}
# Reference versions travel the same way as ``(kind, payload)`` pairs (issue 12):
# ``("fence_version", {"id", "ts", "feature"})`` with ``feature`` None for a removal, and
# ``("registry_version", {"section", "id", "ts", "entry"})`` with ``entry`` None for a removal.
FENCE_VERSION, REGISTRY_VERSION = "fence_version", "registry_version"
EVENT_TABLES.update({FENCE_VERSION: "fences", REGISTRY_VERSION: "registry"})
_TRIP_TIMES = ("ts", "load_ts", "start_ts", "departed_ts", "unload_ts", "delivered_ts")


def cell_of(lat: float, lng: float) -> int | None:
    """The H3 cell (``CELL_RESOLUTION``, as int64) of a WGS-84 position, None if unplaceable.

    Examples
    --------
    >>> hex(cell_of(31.49, 120.31))
    '0x89309...'
    >>> cell_of(float("nan"), 120.31) is None
    True
    """
    try:  # the integer API: no hex string made and parsed back (issue 12: write speed)
        return _latlng_to_cell(lat, lng, CELL_RESOLUTION)
    except (ValueError, TypeError, h3.H3BaseException):
        return None


def ping_row(
    ping: Ping | None,
    verdict: str,
    *,
    raw: str,
    detail: str | None = None,
    partition: int | None = None,
    offset: int | None = None,
    index: int = 0,
    ingest: int | None = None,
    vehicle: str | None = None,
    received: int | None = None,
) -> dict[str, Any]:
    """One ``pings`` row: the parsed fields (or none), the verdict, the raw record, its arrival.

    Parameters
    ----------
    ping : Ping or None
        The parsed ping (WGS-84); None for a record that did not parse (``bad_json``, ...).
    verdict : str
        ``"accepted"`` or the engine's rejection reason (``filter_duplicate``, ``bad_field``...).
    raw : str
        The record as received (one JSON text).
    detail : str, optional
        The rejection's detail, for people.
    partition, offset, index : int, optional
        Kafka arrival: partition, record offset, index of the ping within the record.
    ingest : int, optional
        Embedded arrival: the ingest sequence number (input line order).
    vehicle, received : optional
        For an unparsed record: the vehicle id when known, when the platform received it.

    Examples
    --------
    >>> from stream.ping import parse_ping
    >>> raw = '{"vehicle":"V1","ts":1748869200000,"lat":31.49,"lng":120.31,"loaded":"full"}'
    >>> row = ping_row(parse_ping(raw), "accepted", raw=raw, ingest=7)
    >>> row["vehicle"], row["ts"], row["loaded"], row["verdict"], row["ingest"]
    ('V1', 1748869200000, 'full', 'accepted', 7)
    >>> ping_row(None, "bad_json", raw="{oops", ingest=8).get("ts") is None
    True
    """
    row: dict[str, Any] = {
        "verdict": verdict,
        "detail": detail,
        "partition": partition,
        "offset": offset,
        "index": index,
        "ingest": ingest,
        "raw": raw,
        "vehicle": vehicle,
        "received": received,
    }
    if ping is not None:
        row.update(
            vehicle=ping.vehicle,
            ts=ping.ts,
            lat=ping.lat,
            lng=ping.lng,
            speed_kmh=ping.speed_kmh,
            heading=ping.heading,
            loaded=ping.loaded,
            lift=ping.lift,
            cover_open=ping.cover_open,
            acc=ping.acc,
            backfill=ping.backfill,
            source=ping.source,
            seq=ping.seq,
            received=ping.received if ping.received is not None else received,
            cell=cell_of(ping.lat, ping.lng),
        )
    return row


def event_rows(events: Iterable[tuple[str, dict]]) -> dict[str, list[dict[str, Any]]]:
    """Archive rows by table from engine events ``(kind, payload)``; other kinds are skipped.

    Every version of an alert or trip is a row (``version`` hashes the payload); the same
    version twice in one batch is kept once.

    Examples
    --------
    >>> ev = [("alert", {"id": "a1", "type": "overspeed", "vehicle": "V1", "district": "梁溪",
    ...                  "ts": "2025-06-02T21:00:00+08:00"}),
    ...       ("stop", {"vehicle": "V1", "ts": 1748869200000, "ended_ts": 1748869500000,
    ...                 "lat": 31.49, "lng": 120.31, "duration_s": 300.0, "loaded": "full",
    ...                 "at_known_place": False})]
    >>> rows = event_rows(ev)
    >>> rows["alerts"][0]["ts"], len(rows["alerts"][0]["version"]), rows["stops"][0]["ended_ts"]
    (1748869200000, 16, 1748869500000)
    """
    out: dict[str, list[dict[str, Any]]] = {t: [] for t in EVENT_TABLES.values()}
    seen: set[tuple] = set()
    for kind, payload in events:
        table = EVENT_TABLES.get(str(kind))
        if table is None:
            continue
        row = _ROW[table](payload)
        if "version" in row:
            # a reference entry may come back to an earlier version later: keep each time
            when = row["ts"] if table in ("fences", "registry") else None
            key = (table, row.get("section"), row["id"], row["version"], when)
            if key in seen:
                continue
            seen.add(key)
        out[table].append(row)
    return out


def _ms(value: Any) -> int | None:
    return None if value is None else parse_ts(value)


def _versioned(payload: dict) -> tuple[str, str]:
    text = orjson.dumps(payload, option=orjson.OPT_SORT_KEYS).decode()
    return text, hashlib.sha256(text.encode()).hexdigest()[:16]


def _alert(p: dict) -> dict[str, Any]:
    text, version = _versioned(p)
    return {
        "id": p["id"],
        "version": version,
        "type": p.get("type"),
        "vehicle": p.get("vehicle"),
        "district": p.get("district"),
        "ts": _ms(p.get("ts")),
        "payload": text,
    }


def _trip(p: dict) -> dict[str, Any]:
    text, version = _versioned(p)
    ts = next((p[k] for k in _TRIP_TIMES if p.get(k) is not None), None)
    return {
        "id": p["id"],
        "version": version,
        "vehicle": p.get("vehicle"),
        "kind": p.get("kind"),
        "status": p.get("status"),
        "ts": _ms(ts),
        "payload": text,
    }


def _fence(p: dict) -> dict[str, Any]:
    row = {k: p.get(k) for k in ("vehicle", "fence", "detect", "kind", "lat", "lng", "late")}
    row["ts"] = _ms(p.get("ts"))
    return row


def _stop(p: dict) -> dict[str, Any]:
    row = {k: p.get(k) for k in ("vehicle", "lat", "lng", "loaded", "at_known_place")}
    row["ts"] = _ms(p.get("ts"))
    row["ended_ts"] = _ms(p.get("ended_ts"))
    row["duration_s"] = None if p.get("duration_s") is None else float(p["duration_s"])
    return row


def _fence_version(p: dict) -> dict[str, Any]:
    feature = p.get("feature")
    text, version = _versioned(feature) if feature is not None else (None, "deleted")
    return {
        "id": p["id"],
        "ts": _ms(p.get("ts")),
        "version": version,
        "deleted": feature is None,
        "payload": text,
    }


def _registry_version(p: dict) -> dict[str, Any]:
    entry = p.get("entry")
    text, version = _versioned(entry) if entry is not None else (None, "deleted")
    return {
        "section": p["section"],
        "id": p["id"],
        "ts": _ms(p.get("ts")),
        "version": version,
        "deleted": entry is None,
        "payload": text,
    }


_ROW = {
    "alerts": _alert,
    "trips": _trip,
    "fence_events": _fence,
    "stops": _stop,
    "fences": _fence_version,
    "registry": _registry_version,
}
