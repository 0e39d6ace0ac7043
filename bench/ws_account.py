"""What the websocket clients were due and what they got (issue 15): delivered, late, missing.

Percentiles over what arrived hide what did not; here every item a client was due counts. A
position is due to a district officer's map client when the generator produced it for a vehicle
of that district inside the client's viewport; it is *delivered* when the client receives that
vehicle at that event time **or a later one** (the hub coalesces positions latest-per-vehicle,
and a snapshot replaces a backlog: the newer fix stands for the older), and its latency runs
from its production to that receipt. An alert is due to every alert client. Not received by the
end of the phase = **missing, ranked as +inf** in the percentiles (so a p99 over a run that lost
more than 1 % is ``inf``); received after ``deadline_ms`` = *late* (delivered, and counted).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable


def due_positions(produced: Iterable[dict], district: str, bbox) -> list[tuple[str, int]]:
    """(vehicle, ts ms) of the produced positions a client of ``district`` watching ``bbox``
    (west, south, east, north) is due."""
    w, s, e, n = bbox
    return [
        (p["vehicle"], p["ts"])
        for p in produced
        if p["district"] == district and w <= p["lng"] <= e and s <= p["lat"] <= n
    ]


def position_latencies(
    due: list[tuple[str, int]], receipts: Iterable[tuple[str, int, float]]
) -> list[float]:
    """Latency in ms of every due position, ``inf`` when never covered.

    ``receipts``: (vehicle, ts ms of the received fix, receipt time ms). A due (vehicle, ts) is
    covered by the first receipt of that vehicle with a fix at ts or later.
    """
    by_vehicle: dict[str, list[tuple[float, int]]] = {}
    for vehicle, ts, recv in receipts:
        by_vehicle.setdefault(vehicle, []).append((recv, ts))
    # For each vehicle: receipts by time, and the running max of their fix times, so that the
    # first receipt covering ts is a binary search.
    index = {}
    for vehicle, rows in by_vehicle.items():
        rows.sort()
        best, highest = [], -math.inf
        for _, ts in rows:
            highest = max(highest, ts)
            best.append(highest)
        index[vehicle] = (rows, best)
    out = []
    for vehicle, ts in due:
        rows, best = index.get(vehicle, ((), ()))
        i = bisect.bisect_left(best, ts)
        out.append(rows[i][0] - ts if i < len(rows) else math.inf)
    return out


def alert_latencies(produced: dict[str, int], received: dict[str, float]) -> list[float]:
    """Latency in ms of every produced alert at one client (``inf`` when never received).

    ``produced``: alert id -> production time ms; ``received``: id -> receipt time ms."""
    return [received[i] - ts if i in received else math.inf for i, ts in produced.items()]


def summary(latencies: list[float], deadline_ms: float, extra: int = 0) -> dict:
    """Counts and percentiles over everything due, missing ranked as +inf.

    Parameters
    ----------
    latencies : list of float
        One value per due item (per client), ``inf`` for missing.
    deadline_ms : float
        Delivered later than this is late.
    extra : int
        Items received that were never due (a wrong item: counted, and ``complete`` is False).

    Returns
    -------
    dict
        ``due``, ``delivered``, ``late``, ``missing``, ``extra``, ``complete`` (nothing missing,
        nothing extra), ``p50_ms``, ``p99_ms``, ``max_ms`` (``inf`` when something is missing),
        ``missing_as`` = ``"+inf"``, ``deadline_ms``.
    """
    ordered = sorted(latencies)
    missing = sum(1 for v in ordered if v == math.inf)
    delivered = len(ordered) - missing
    return {
        "due": len(ordered),
        "delivered": delivered,
        "late": sum(1 for v in ordered if deadline_ms < v < math.inf),
        "missing": missing,
        "extra": extra,
        "complete": missing == 0 and extra == 0,
        "p50_ms": _pct(ordered, 0.50),
        "p99_ms": _pct(ordered, 0.99),
        "max_ms": _pct(ordered, 1.0),
        "missing_as": "+inf",
        "deadline_ms": deadline_ms,
    }


def _pct(ordered: list[float], q: float) -> float | str | None:
    if not ordered:
        return None
    v = ordered[min(len(ordered) - 1, int(q * len(ordered)))]
    return "+inf" if v == math.inf else round(v, 1)  # JSON has no infinity
