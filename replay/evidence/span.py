"""The time range of pings an evidence pack holds: enough to raise the alert again (issue 12).

The engine's answer about one vehicle depends only on its pings, the reference data and the
time range processed (issue 11). A pack re-run must therefore start early enough that the
vehicle's state at the alert is rebuilt, and run late enough that the alert is raised:

- always the alert's evidence window (``replay.window.alert_window``: 30 min before its first
  evidence ping or start, 10 min after its end or last ping);
- a trip or round under way: from the start of its load or first collection dwell, less the
  same 30 min (the visit begins before its dwell counts), so that the trip, its permit and its
  state (loaded, its site) are the live run's; the same for every other trip or round of the
  vehicle still under way at that start (the pack starts where the vehicle had nothing open);
- alerts raised at a deadline, not at a ping: ``unmatched_source`` and
  ``undelivered_collection`` until past ``evidence.deadline``, ``unpermitted_load`` until past
  ``evidence.departed`` (it is raised on leaving the site), ``signal_lost`` never seen again
  until past the last fix plus the signal-lost limit and the dock wait;
- ``unsourced_delivery``: from the vehicle's previous delivery (``evidence.last_delivery``), so
  the evidence names it again.

The end is also the ``--until`` of the re-run (the final tick), so a deadline inside the range
is reached even when the vehicle sends nothing after it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from replay.window import AFTER_MS, BEFORE_MS, alert_window
from stream.engine import Thresholds
from stream.eventtime import parse_ts

TRIP_STARTS = ("load_ts", "start_ts")
TRIP_TIMES = ("load_ts", "start_ts", "departed_ts", "unload_ts", "delivered_ts")
MAX_WIDEN = 4  # trips chained back from the start: a bound, trips seldom overlap


@dataclass(frozen=True, slots=True)
class Span:
    """The pack's time range and why it is that wide.

    Attributes
    ----------
    from_ms, to_ms : int
        Inclusive; ``to_ms`` is the re-run's ``--until``.
    reasons : tuple of str
        One line per widening, for README.txt.
    """

    from_ms: int
    to_ms: int
    reasons: tuple[str, ...]


def pack_span(
    alert: Mapping[str, Any],
    trip: list[Mapping[str, Any]] | None,
    thresholds: Thresholds,
    open_trips: Callable[[int], list[list[Mapping[str, Any]]]] | None = None,
) -> Span:
    """The time range of an alert's evidence pack (module docstring).

    Parameters
    ----------
    alert : dict
        The alert (its final version).
    trip : list of dict or None
        The versions of the alert's trip or round (``alert["trip"]``), oldest first.
    thresholds : Thresholds
        The engine settings of the pack (deadlines, signal-lost limits).
    open_trips : callable, optional
        ``open_trips(ms)`` -> the versions of each other trip or round of the vehicle that started
        before ``ms`` (within a day); those still under way at ``ms`` widen the start.

    Examples
    --------
    >>> alert = {"type": "unmatched_source", "ts": "2025-06-02T21:00:00+08:00",
    ...          "ended_ts": None, "evidence": {"deadline": "2025-06-03T01:00:00+08:00"}}
    >>> trip = [{"load_ts": "2025-06-02T20:50:00+08:00", "status": "open"}]
    >>> span = pack_span(alert, trip, Thresholds())
    >>> from stream.eventtime import iso_ts
    >>> iso_ts(span.from_ms), iso_ts(span.to_ms)
    ('2025-06-02T20:20:00+08:00', '2025-06-03T01:10:00+08:00')
    """
    lo, hi = alert_window(dict(alert))
    reasons = ["the alert's evidence window (replay.window.alert_window)"]
    evidence = alert.get("evidence") or {}
    if trip:
        start = _trip_start(trip)
        if start is not None and start - BEFORE_MS < lo:
            lo = start - BEFORE_MS
            reasons.append(f"from 30 min before the start of its trip/round {alert.get('trip')}")
    kind = alert.get("type")
    ends = {
        "unmatched_source": ("deadline", "the trip deadline (raised then)"),
        "undelivered_collection": ("deadline", "the round deadline (raised then)"),
        "unpermitted_load": ("departed", "leaving the site (raised then)"),
    }
    if kind in ends and evidence.get(ends[kind][0]):
        hi = max(hi, parse_ts(evidence[ends[kind][0]]) + AFTER_MS)
        reasons.append(f"until 10 min past {ends[kind][1]}")
    if kind == "signal_lost" and not alert.get("ended_ts"):
        wait = thresholds.signal_lost_ms + thresholds.dock_wait_ms
        hi = max(hi, parse_ts(alert["ts"]) + wait + AFTER_MS)
        reasons.append("until past the signal-lost limit and the dock wait (never seen again)")
    if kind == "unsourced_delivery" and evidence.get("last_delivery"):
        lo = min(lo, parse_ts(evidence["last_delivery"]) - BEFORE_MS)
        reasons.append("from 30 min before the vehicle's previous delivery")
    if open_trips is not None:
        lo, widened = _clear_start(lo, open_trips, thresholds)
        reasons += widened
    return Span(lo, hi, tuple(reasons))


def _clear_start(
    lo: int,
    open_trips: Callable[[int], list[list[Mapping[str, Any]]]],
    thresholds: Thresholds,
) -> tuple[int, list[str]]:
    """Move ``lo`` back until no other trip or round of the vehicle is under way at it."""
    reasons: list[str] = []
    for _ in range(MAX_WIDEN):
        starts = [
            s
            for versions in open_trips(lo)
            if (s := _trip_start(versions)) is not None
            and s < lo <= _trip_end(versions, thresholds)
        ]
        if not starts:
            break
        lo = min(starts) - BEFORE_MS
        reasons.append("from 30 min before a trip/round still under way at the start")
    return lo, reasons


def _trip_start(versions: list[Mapping[str, Any]]) -> int | None:
    times = [parse_ts(v[k]) for v in versions for k in TRIP_STARTS if v.get(k) is not None]
    return min(times) if times else None


def _trip_end(versions: list[Mapping[str, Any]], thresholds: Thresholds) -> int:
    """When a trip or round stopped mattering: its last recorded time once it was delivered,
    else its deadline (an open or unmatched one is still matched to unloads until then)."""
    times = [parse_ts(v[k]) for v in versions for k in TRIP_TIMES if v.get(k) is not None]
    last = versions[-1]
    if last.get("status") in ("delivered", "unapproved", "no_collection"):
        return max(times)
    muck = last.get("kind") == "muck"
    return max(times) + (thresholds.trip_deadline_ms if muck else thresholds.round_deadline_ms)
