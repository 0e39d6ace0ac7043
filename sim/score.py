"""Precision and recall of alerts against ground truth (``landun score``).

A truth is ``{"type", "vehicle", "ts", "window": [start, end], "note"}``. Alerts and truths are
matched **one to one** per (type, vehicle) (issue 11: two alerts in one truth window used to both
count as correct): an alert can match a truth when its ``ts`` lies inside the truth's window
(inclusive); each truth is found by at most one alert and each alert counts for at most one
truth, and the matching is a maximum one (as many truths found as any pairing allows). Then,
per type and overall:

- ``found`` = ``correct`` = matched pairs;
- ``duplicates`` = unmatched alerts lying inside the window of a truth already found (a second
  alert for one violation: it sends an officer out twice);
- ``false_alarms`` = the other unmatched alerts (inside no truth window of their type and
  vehicle);
- recall = found / truths, taken as 1.0 when there are no truths;
- precision = correct / alerts (duplicates and false alarms both count against it), taken as
  1.0 when there are no alerts.

Optionally a ``normal.json`` from ``landun sim`` (the normal-operation episodes the bureau does
not want flagged, and the vehicle-hours of normal operation) turns the false alarms into a rate
per 1,000 vehicle-hours and attributes them to the episodes whose window holds them.

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
from stream.eventtime import parse_ts
from stream.wire_values import PingError

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


def match(windows: list[tuple[int, int]], times: list[int]) -> tuple[list[int | None], list]:
    """A maximum one-to-one matching of alert times to truth windows (one type and vehicle).

    Parameters
    ----------
    windows : list of (int, int)
        Truth windows ``(start, end)``, inclusive.
    times : list of int
        Alert times.

    Returns
    -------
    (list, list)
        For each window the index of its alert in ``times`` (or None); for each alert the index
        of its window (or None).

    Notes
    -----
    Windows are taken by increasing end (ties: start, then input order); each takes the earliest
    free alert at or after its start, if that alert is not past its end. This is optimal for
    points and intervals (exchange argument): the window ending first can only use alerts up to
    its end, and of those the earliest is the one least useful to any later-ending window, since
    every window that could use it could also use any later alert up to its own (later) end. So
    some maximum matching agrees with every greedy choice. Sorting makes it O(n log n).
    """
    order = sorted(range(len(times)), key=lambda i: (times[i], i))
    sorted_ts = [times[i] for i in order]
    nxt = list(range(len(order) + 1))  # union-find "next free slot at or after k"

    def free(k: int) -> int:
        root = k
        while nxt[root] != root:
            root = nxt[root]
        while nxt[k] != root:
            nxt[k], k = root, nxt[k]
        return root

    by_window: list[int | None] = [None] * len(windows)
    by_alert: list[int | None] = [None] * len(times)
    for w in sorted(range(len(windows)), key=lambda w: (windows[w][1], windows[w][0], w)):
        start, end = windows[w]
        k = free(bisect.bisect_left(sorted_ts, start))
        if k < len(order) and sorted_ts[k] <= end:
            nxt[k] = k + 1
            by_window[w], by_alert[order[k]] = order[k], w
    return by_window, by_alert


COUNT_KEYS = ("truths", "alerts", "found", "correct", "duplicates", "false_alarms")


def score(truths: list[TruthRow], alerts: list[AlertRow], normal: dict | None = None) -> dict:
    """Precision and recall per alert type and overall, one to one (see the module docstring).

    Parameters
    ----------
    truths : list of TruthRow
        Ground truth, from :func:`read_truths`.
    alerts : list of AlertRow
        Alerts, from :func:`read_alerts`.
    normal : dict, optional
        From :func:`read_normal`: normal-operation episodes and vehicle-hours.

    Returns
    -------
    dict
        ``{"overall": {...}, "by_type": {type: {...}}}``, each entry with ``precision``,
        ``recall``, ``truths``, ``alerts``, ``found``, ``correct``, ``duplicates`` and
        ``false_alarms``. Every known alert type is listed, plus any other type found in either
        input. With ``normal``, also ``"normal"``: see :func:`normal_rates`.
    """
    truth_groups: dict[tuple[str, str], list[TruthRow]] = defaultdict(list)
    alert_groups: dict[tuple[str, str], list[AlertRow]] = defaultdict(list)
    for t in truths:
        truth_groups[(t.type, t.vehicle)].append(t)
    for a in alerts:
        alert_groups[(a.type, a.vehicle)].append(a)
    counts = {k: dict.fromkeys(COUNT_KEYS, 0) for k in KNOWN_TYPES}
    false_alarms: list[AlertRow] = []
    for key in sorted(set(truth_groups) | set(alert_groups)):
        ts_, as_ = truth_groups.get(key, []), alert_groups.get(key, [])
        c = counts.setdefault(key[0], dict.fromkeys(COUNT_KEYS, 0))
        windows = [(t.start, t.end) for t in ts_]
        by_window, by_alert = match(windows, [a.ts for a in as_])
        found = [windows[w] for w, hit in enumerate(by_window) if hit is not None]
        c["truths"] += len(ts_)
        c["alerts"] += len(as_)
        c["found"] += len(found)
        c["correct"] += len(found)
        for a, w in zip(as_, by_alert, strict=True):
            if w is not None:
                continue
            if any(s <= a.ts <= e for s, e in found):
                c["duplicates"] += 1
            else:
                c["false_alarms"] += 1
                false_alarms.append(a)
    by_type = {k: _entry(c) for k, c in sorted(counts.items())}
    overall = _entry({k: sum(c[k] for c in counts.values()) for k in COUNT_KEYS})
    result = {"overall": overall, "by_type": by_type}
    if normal is not None:
        result["normal"] = normal_rates(normal, false_alarms)
    return result


def _entry(c: dict) -> dict:
    return {
        "precision": _ratio(c["correct"], c["alerts"]),
        "recall": _ratio(c["found"], c["truths"]),
        **{k: c[k] for k in COUNT_KEYS},
    }


def read_normal(data: dict) -> dict:
    """Check a ``normal.json`` document (docs/formats.md) and return it with int times.

    Raises
    ------
    ValueError
        Naming the first problem (missing keys, bad times, negative hours).
    """
    if not isinstance(data, dict):
        raise ValueError("normal.json: expected a JSON object")
    hours = data.get("vehicle_hours")
    if not isinstance(hours, int | float) or isinstance(hours, bool) or hours < 0:
        raise ValueError(f"vehicle_hours: expected a non-negative number, got {hours!r}")
    episodes = []
    for n, e in enumerate(data.get("episodes") or []):
        try:
            window = e.get("window") if isinstance(e, dict) else None
            if not isinstance(window, list) or len(window) != 2:
                raise ValueError(f"window: expected [start, end], got {window!r}")
            start, end = _time(window[0], "window[0]"), _time(window[1], "window[1]")
            episodes.append((_text(e, "pattern"), _text(e, "vehicle"), start, end))
        except ValueError as exc:
            raise ValueError(f"episodes[{n}]: {exc}") from None
    return {"vehicle_hours": float(hours), "episodes": episodes}


def normal_rates(normal: dict, false_alarms: list[AlertRow]) -> dict:
    """False alarms per 1,000 vehicle-hours of normal operation, and per pattern.

    An episode's false alarms are the false alarms of its vehicle dated inside its window (an
    alert is counted once, for the first such episode). Returns ``{"vehicle_hours",
    "false_alarms", "per_1000_vehicle_hours", "by_pattern": {pattern: {"episodes",
    "false_alarms", "by_type": {type: n}}}}``.
    """
    hours = normal["vehicle_hours"]
    by_pattern: dict[str, dict] = {}
    by_vehicle: dict[str, list] = defaultdict(list)
    for e in normal["episodes"]:
        row = by_pattern.setdefault(e[0], {"episodes": 0, "false_alarms": 0, "by_type": {}})
        row["episodes"] += 1
        by_vehicle[e[1]].append(e)
    for a in false_alarms:
        hit = next((e for e in by_vehicle.get(a.vehicle, ()) if e[2] <= a.ts <= e[3]), None)
        if hit is not None:
            row = by_pattern[hit[0]]
            row["false_alarms"] += 1
            row["by_type"][a.type] = row["by_type"].get(a.type, 0) + 1
    n = len(false_alarms)
    return {
        "vehicle_hours": round(hours, 1),
        "false_alarms": n,
        "per_1000_vehicle_hours": round(n / hours * 1000, 2) if hours else 0.0,
        "by_pattern": dict(sorted(by_pattern.items())),
    }


def table(result: dict) -> str:
    """The score as a fixed-width text table, one row per type and an overall row; with a
    ``normal`` part, the false alarms per 1,000 vehicle-hours and per pattern below it."""
    head = f"{'type':<24} {'truths':>6} {'alerts':>6} {'found':>6} {'correct':>7} {'dup':>4}"
    head += f" {'false':>5} {'precision':>9} {'recall':>7}"
    lines = [head, "-" * len(head)]
    rows = [*result["by_type"].items(), ("overall", result["overall"])]
    for name, r in rows:
        if name == "overall":
            lines.append("-" * len(head))
        lines.append(
            f"{name:<24} {r['truths']:>6} {r['alerts']:>6} {r['found']:>6} {r['correct']:>7} "
            f"{r['duplicates']:>4} {r['false_alarms']:>5} {r['precision']:>9.3f} "
            f"{r['recall']:>7.3f}"
        )
    lines.append(f"duplicates: {result['overall']['duplicates']} (count against precision)")
    n = result.get("normal")
    if n:
        lines.append(
            f"false alarms: {n['false_alarms']} in {n['vehicle_hours']} vehicle-hours of normal "
            f"operation = {n['per_1000_vehicle_hours']} per 1,000 vehicle-hours"
        )
        for pattern, row in n["by_pattern"].items():
            kinds = ", ".join(f"{k} {v}" for k, v in sorted(row["by_type"].items()))
            lines.append(
                f"  {pattern:<22} {row['episodes']:>4} episodes {row['false_alarms']:>4} false"
                + (f" ({kinds})" if kinds else "")
            )
    return "\n".join(lines)
