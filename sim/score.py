"""Precision and recall of alerts against ground truth (``landun score``).

A truth ``{"type", "vehicle", "ts", "window": [start, end], "note"}`` is *found* when an alert of
the same type and vehicle has its ``ts`` inside the window (inclusive). An alert is *correct* when
it lies in the window of some truth of the same type and vehicle. Per type and overall:

- recall = found truths / truths, taken as 1.0 when there are no truths;
- precision = correct alerts / alerts, taken as 1.0 when there are no alerts.

Times are ISO 8601 with an offset or int epoch milliseconds. Alerts are keyed by ``id``: when an
id appears on several lines the last line wins (an alert re-emitted with its end). Lines that are
not JSON objects or lack a field are reported with their line numbers and skipped; they never
stop the scoring. Pure: the caller reads the files and prints.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import orjson

from stream.codes import ALERT_TYPES
from stream.ping import PingError, parse_ts

KNOWN_TYPES = ALERT_TYPES


@dataclass(frozen=True)
class TruthRow:
    type: str
    vehicle: str
    ts: int
    start: int
    end: int


@dataclass(frozen=True)
class AlertRow:
    id: str | None
    type: str
    vehicle: str
    ts: int


def _object(line: bytes | str, where: str, problems: list[str]) -> dict | None:
    if not line.strip():
        return None
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        problems.append(f"{where}: not JSON ({exc})")
        return None
    if not isinstance(obj, dict):
        problems.append(f"{where}: expected a JSON object, got {type(obj).__name__}")
        return None
    return obj


def _text(obj: dict, key: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value:
        raise ValueError(f"{key}: required non-empty string, got {value!r}")
    return value


def _time(value, key: str) -> int:
    try:
        return parse_ts(value, key)
    except PingError as exc:
        raise ValueError(exc.detail) from None


def read_truths(lines: Iterable[bytes | str], name: str = "truth") -> tuple[list[TruthRow], list]:
    """Parse the lines of a truth file.

    Parameters
    ----------
    lines : iterable of bytes or str
        The file's lines, in order (line numbers count from 1; blank lines are skipped).
    name : str
        The file's name, used in problem messages.

    Returns
    -------
    (rows, problems)
        The valid truths, and one ``"name:line: message"`` per skipped line.
    """
    rows, problems = [], []
    for n, line in enumerate(lines, 1):
        obj = _object(line, f"{name}:{n}", problems)
        if obj is None:
            continue
        try:
            window = obj.get("window")
            if not isinstance(window, list) or len(window) != 2:
                raise ValueError(f"window: expected [start, end], got {window!r}")
            start, end = _time(window[0], "window[0]"), _time(window[1], "window[1]")
            if end < start:
                raise ValueError("window: end before start")
            ts = _time(obj.get("ts"), "ts") if "ts" in obj else start
            rows.append(TruthRow(_text(obj, "type"), _text(obj, "vehicle"), ts, start, end))
        except ValueError as exc:
            problems.append(f"{name}:{n}: {exc}")
    return rows, problems


def read_alerts(lines: Iterable[bytes | str], name: str = "alerts") -> tuple[list[AlertRow], list]:
    """Parse the lines of an alerts file; when an id repeats, its last line wins.

    Parameters
    ----------
    lines : iterable of bytes or str
        The file's lines, in order.
    name : str
        The file's name, used in problem messages.

    Returns
    -------
    (rows, problems)
        The alerts, and one ``"name:line: message"`` per skipped line.
    """
    by_id: dict[str, AlertRow] = {}
    anonymous: list[AlertRow] = []
    problems: list[str] = []
    for n, line in enumerate(lines, 1):
        obj = _object(line, f"{name}:{n}", problems)
        if obj is None:
            continue
        try:
            aid = obj.get("id")
            if aid is not None and not isinstance(aid, str):
                raise ValueError(f"id: expected a string, got {aid!r}")
            row = AlertRow(
                aid, _text(obj, "type"), _text(obj, "vehicle"), _time(obj.get("ts"), "ts")
            )
        except ValueError as exc:
            problems.append(f"{name}:{n}: {exc}")
            continue
        if aid is None:
            anonymous.append(row)
        else:
            by_id.pop(aid, None)  # keep the last version, in the order of its last line
            by_id[aid] = row
    return [*by_id.values(), *anonymous], problems


def _ratio(num: int, den: int) -> float:
    return num / den if den else 1.0


def score(truths: list[TruthRow], alerts: list[AlertRow]) -> dict:
    """Precision and recall per alert type and overall (see the module docstring).

    Parameters
    ----------
    truths : list of TruthRow
        Ground truth, from :func:`read_truths`.
    alerts : list of AlertRow
        Alerts, from :func:`read_alerts`.

    Returns
    -------
    dict
        ``{"overall": {...}, "by_type": {type: {...}}}``, each entry with ``precision``,
        ``recall``, ``truths``, ``alerts``, ``found`` and ``correct``. Every known alert type is
        listed, plus any other type found in either input.
    """
    alert_ts: dict[tuple[str, str], list[int]] = defaultdict(list)
    for a in alerts:
        alert_ts[(a.type, a.vehicle)].append(a.ts)
    for times in alert_ts.values():
        times.sort()
    windows: dict[tuple[str, str], list[tuple[int, int]]] = defaultdict(list)
    for t in truths:
        windows[(t.type, t.vehicle)].append((t.start, t.end))
    counts = {k: [0, 0, 0, 0] for k in KNOWN_TYPES}  # truths, alerts, found, correct
    for t in truths:
        c = counts.setdefault(t.type, [0, 0, 0, 0])
        c[0] += 1
        times = alert_ts.get((t.type, t.vehicle), [])
        k = bisect.bisect_left(times, t.start)
        if k < len(times) and times[k] <= t.end:
            c[2] += 1
    for a in alerts:
        c = counts.setdefault(a.type, [0, 0, 0, 0])
        c[1] += 1
        if any(s <= a.ts <= e for s, e in windows.get((a.type, a.vehicle), ())):
            c[3] += 1
    by_type = {
        k: {
            "precision": _ratio(c[3], c[1]),
            "recall": _ratio(c[2], c[0]),
            "truths": c[0],
            "alerts": c[1],
            "found": c[2],
            "correct": c[3],
        }
        for k, c in sorted(counts.items())
    }
    tot = [sum(c[i] for c in counts.values()) for i in range(4)]
    overall = {
        "precision": _ratio(tot[3], tot[1]),
        "recall": _ratio(tot[2], tot[0]),
        "truths": tot[0],
        "alerts": tot[1],
        "found": tot[2],
        "correct": tot[3],
    }
    return {"overall": overall, "by_type": by_type}


def table(result: dict) -> str:
    """The score as a fixed-width text table, one row per type and an overall row."""
    head = f"{'type':<24} {'truths':>6} {'alerts':>6} {'found':>6} {'correct':>7}"
    head += f" {'precision':>9} {'recall':>7}"
    lines = [head, "-" * len(head)]
    rows = [*result["by_type"].items(), ("overall", result["overall"])]
    for name, r in rows:
        if name == "overall":
            lines.append("-" * len(head))
        lines.append(
            f"{name:<24} {r['truths']:>6} {r['alerts']:>6} {r['found']:>6} {r['correct']:>7} "
            f"{r['precision']:>9.3f} {r['recall']:>7.3f}"
        )
    return "\n".join(lines)
