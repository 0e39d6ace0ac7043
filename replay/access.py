"""What a district-scoped caller may see of a vehicle registered elsewhere: the evidence windows
of the alerts raised in their district for it, and nothing beyond (issue 12).

The rule is the API's (``api/routes/replay.py``); this module computes its intervals from alert
payloads, wherever they come from (the API's alert store, the archive's ``alerts`` table), and
reads the archive's side. Intervals are epoch ms, inclusive, clipped to the query window and
merged where they touch (``replay.duck.clip``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from replay.duck import Interval, clip, folder, latest_payloads
from replay.layout import data_files, days_between
from replay.window import LONGEST_MS, alert_window

# An alert whose evidence window overlaps [start, end] started within a day of it: the window
# spans a day at most (replay.window.LONGEST_MS) and holds the alert's own time.
REACH_MS = LONGEST_MS


def alert_windows(
    alerts: Iterable[dict[str, Any]], district: str, start: int, end: int
) -> dict[str, list[Interval]]:
    """Vehicle -> the evidence windows (clipped to ``[start, end]``) of ``alerts`` raised in
    ``district``; vehicles whose windows miss the window are left out.

    Examples
    --------
    >>> a = {"id": "a1", "vehicle": "V1", "district": "梁溪", "ts": 1_000_000_000_000}
    >>> b = dict(a, id="a2", district="锡山")
    >>> alert_windows([a, b], "梁溪", 0, 2_000_000_000_000)
    {'V1': [(999998200000, 1000000600000)]}
    """
    found: dict[str, list[Interval]] = {}
    for alert in alerts:
        if alert.get("district") != district or not alert.get("vehicle"):
            continue
        found.setdefault(str(alert["vehicle"]), []).append(alert_window(alert))
    clipped = {v: clip(spans, start, end) for v, spans in found.items()}
    return {v: spans for v, spans in sorted(clipped.items()) if spans}


def archived_alerts(
    archive: str | os.PathLike, district: str, start: int, end: int, vehicle: str | None = None
) -> dict[str, dict[str, Any]]:
    """Id -> the latest version of the archived alerts raised in ``district`` (of ``vehicle``)
    that may reach into ``[start, end]`` (started within :data:`REACH_MS` of it)."""
    lo, hi = reach(start, end)
    where, params = "district = ? AND ts BETWEEN ? AND ?", [district, lo, hi]
    if vehicle is not None:
        where, params = where + " AND vehicle = ?", [*params, vehicle]
    files = data_files(folder(archive), "alerts", days_between(lo, hi))
    return latest_payloads(files, where, params, lambda a: a.get("ended_ts") is not None)


def known_first(
    store: Iterable[dict[str, Any]], archived: dict[str, dict[str, Any]]
) -> list[dict[str, Any]]:
    """The alerts of the API's store, then the archived ones it does not know: for an alert
    both hold, its district and vehicle are the store's (the alert the API serves).

    Examples
    --------
    >>> known_first([{"id": "a1", "district": "梁溪"}], {"a1": {"id": "a1", "district": "锡山"},
    ...             "a2": {"id": "a2"}})
    [{'id': 'a1', 'district': '梁溪'}, {'id': 'a2'}]
    """
    alerts = list(store)
    seen = {a.get("id") for a in alerts}
    return alerts + [a for ident, a in sorted(archived.items()) if ident not in seen]


def reach(start: int, end: int) -> tuple[int, int]:
    """The alert start times (ms) whose evidence window may overlap ``[start, end]``."""
    return start - REACH_MS, end + REACH_MS
