"""Finding a vehicle and its card (issue 13): the duty officer types part of a plate, clicks a
truck, and reads who it is, what it carries and what it did.

Pure functions over plain records; ``api.routes.vehicles`` reads the stores and calls them.

- **Search**: a case-insensitive substring of the plate, the id, the company or the terminal
  phone. Separators are ignored on both sides, so ``苏b12345`` finds ``苏B·12345`` (plates are
  painted with a middle dot and typed without one).
- **Current trip**: the vehicle's newest ``open`` trip or round, as the engine recorded it
  (``stream.engine.trips``/``rounds`` via the trip store): the live position record does not carry
  it, and the engine's trip record is the authority on it.
- **District officers** may open a vehicle registered elsewhere while an alert raised in their
  district names it and is at most :data:`ALERT_REACH_MS` old in data time (the replay rule of
  ``replay.access``: an alert in one's district opens that vehicle's evidence, nothing more).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from api.ports import Record
from replay.access import REACH_MS
from stream.eventtime import parse_ts

SEARCH_KEYS = ("plate", "id", "company", "terminal_phone")
# Plates are written 苏B·12345, 苏B 12345 or 苏B-12345; phones with spaces or dashes.
SEPARATORS = str.maketrans("", "", "·・•.-_ \u3000")
ALERT_REACH_MS = REACH_MS  # 24 h of data time, as replay.access reaches for evidence windows
CARD_ALERTS = 20  # alerts on a card, newest first


def fold(text: Any) -> str:
    """``text`` as search compares it: case-folded, separators dropped.

    >>> fold("苏B·12345"), fold(" 苏b 12345 "), fold(None)
    ('苏b12345', '苏b12345', '')
    """
    return str(text or "").casefold().translate(SEPARATORS)


def matches(vehicle: Record, needle: str) -> bool:
    """True when the folded ``needle`` is a substring of one of the vehicle's searchable fields
    (an empty needle matches every vehicle).

    >>> v = {"id": "V0007", "plate": "苏B·D1234", "company": "锡山渣土运输"}
    >>> [matches(v, fold(q)) for q in ("d12", "v00", "渣土", "苏E")]
    [True, True, True, False]
    """
    return any(needle in fold(vehicle.get(key)) for key in SEARCH_KEYS)


def sort_key(vehicle: Record) -> tuple[str, str]:
    """Search results are sorted by plate, then id (a vehicle without a plate sorts first)."""
    return str(vehicle.get("plate") or ""), str(vehicle.get("id"))


def live_state(position: Record | None) -> str:
    """The vehicle's live state for the ``state`` filter: no live position is ``offline``."""
    return "offline" if position is None else position["state"]


def started_ms(trip: Record) -> int | None:
    """A trip's load time (muck) or a round's start (kitchen), epoch ms; None when unknown or
    unreadable. The card's ``started`` and the trips table's ``ts_ms`` (api.db.records).

    >>> started_ms({"load_ts": "2025-06-02T20:51:48+08:00"}), started_ms({"start_ts": "x"})
    (1748868708000, None)
    """
    started = trip.get("load_ts") or trip.get("start_ts")
    try:
        return parse_ts(started) if started else None
    except ValueError:
        return None


def current_trip(trips: Iterable[Record], vehicle: str) -> Record | None:
    """The vehicle's trip or round under way (the newest ``open`` one), summarised: ``id``,
    ``kind``, ``state`` (the engine's status), ``loaded``, ``source`` (the site loaded at, or a
    round's first producer), ``permit`` (id or None), ``started`` (ms), ``departed`` (ms or
    None), ``overdue``. None when nothing is open.

    An open muck trip is loaded: it opens at the load and closes at the unload. An open round
    is loaded once it has collected somewhere.

    >>> trips = [
    ...     {"id": "T1", "vehicle": "V1", "kind": "muck", "site": "s1", "permit": "p1",
    ...      "load_ts": 1000, "departed_ts": None, "status": "delivered"},
    ...     {"id": "T2", "vehicle": "V1", "kind": "muck", "site": "s2", "permit": None,
    ...      "load_ts": 5000, "departed_ts": 6000, "status": "open", "overdue": False},
    ... ]
    >>> current_trip(trips, "V1")["id"], current_trip(trips, "V1")["source"]
    ('T2', 's2')
    >>> current_trip(trips, "V2") is None
    True
    """
    under_way = [t for t in trips if t.get("vehicle") == vehicle and t.get("status") == "open"]
    if not under_way:
        return None
    trip = max(under_way, key=lambda t: (started_ms(t) or -1, str(t.get("id"))))
    producers = trip.get("producers") or []
    is_round = "start_ts" in trip or trip.get("kind") in ("kitchen", "oil")
    departed = trip.get("departed_ts")
    return {
        "id": trip.get("id"),
        "kind": trip.get("kind"),
        "state": trip.get("status"),
        "loaded": bool(producers) if is_round else True,
        "source": (producers[0] if producers else None) if is_round else trip.get("site"),
        "permit": trip.get("permit"),
        "started": started_ms(trip),
        "departed": parse_ts(departed) if departed else None,
        "overdue": bool(trip.get("overdue")),
    }


def permit_card(permit: Record | None) -> Record | None:
    """The permit as the registry holds it, plus ``sources`` (its site as a list: contract 2
    names the places a load may come from ``sources``; a registry permit has one ``site``)."""
    if permit is None:
        return None
    site = permit.get("site")
    return {**permit, "sources": [site] if site else []}


def alert_line(alert: Record) -> Record:
    """An alert as the card lists it."""
    return {
        "id": alert["id"],
        "type": alert.get("type"),
        "severity": alert.get("severity"),
        "ts": alert.get("ts"),
        "ended_ts": alert.get("ended_ts"),
        "district": alert.get("district"),
        "case_state": alert.get("case", {}).get("state"),
    }


def data_now(position: Record | None, newest_alert: Record | None) -> int | None:
    """The data time the 24 h reach is measured back from: the latest of the vehicle's last
    fix and the newest alert of the officer's district (event times, not the server clock: in a
    demo or a replayed day the data is not of today)."""
    times = [parse_ts(r["ts"]) for r in (position, newest_alert) if r is not None]
    return max(times) if times else None


def alert_opens(alert: Record | None, now_ms: int | None) -> bool:
    """True when ``alert`` (raised in the officer's district about the vehicle) is recent
    enough, at most :data:`ALERT_REACH_MS` before ``now_ms``, to open the vehicle's card.

    >>> alert_opens({"ts": 0}, ALERT_REACH_MS), alert_opens({"ts": 0}, ALERT_REACH_MS + 1)
    (True, False)
    >>> alert_opens(None, 0)
    False
    """
    if alert is None or now_ms is None:
        return False
    return parse_ts(alert["ts"]) >= now_ms - ALERT_REACH_MS
