"""The evidence window of an alert: the time around it an investigation looks at (issue 12).

It decides what an evidence pack holds and what a district officer may see of a vehicle
registered elsewhere (the track of any vehicle around an alert raised in their district, and
nothing beyond that): from :data:`BEFORE_MS` before the earliest of the alert's time and its
evidence pings, to :data:`AFTER_MS` after the latest of its time, end and evidence pings, never
longer than :data:`LONGEST_MS`.
"""

from __future__ import annotations

from typing import Any

from stream.eventtime import parse_ts

BEFORE_MS = 30 * 60_000  # the approach: the live map's alert view showed 30 min before, too
AFTER_MS = 10 * 60_000  # where the truck went next
LONGEST_MS = 24 * 3_600_000  # an unmatched trip's evidence may start hours earlier; a day at most


def alert_window(alert: dict[str, Any]) -> tuple[int, int]:
    """``(from_ms, to_ms)``: the evidence window of an alert (its JSON as the engine emits it).

    Examples
    --------
    >>> alert = {"ts": "2025-06-02T21:00:00+08:00", "ended_ts": None,
    ...          "evidence": {"pings": [{"ts": "2025-06-02T20:50:00+08:00"}]}}
    >>> lo, hi = alert_window(alert)
    >>> (parse_ts(alert["ts"]) - lo) // 60_000, (hi - parse_ts(alert["ts"])) // 60_000
    (40, 10)
    """
    times = [parse_ts(alert["ts"])]
    if alert.get("ended_ts") is not None:
        times.append(parse_ts(alert["ended_ts"]))
    for ping in (alert.get("evidence") or {}).get("pings") or ():
        if ping.get("ts") is not None:
            times.append(parse_ts(ping["ts"]))
    start, end = min(times) - BEFORE_MS, max(times) + AFTER_MS
    return max(start, end - LONGEST_MS), end
