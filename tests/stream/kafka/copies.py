"""Every alert record a worker run left on the alerts topic, counted (issue 15).

The worker is at-least-once for its outputs (stream/kafka/runner.py): after a kill -9, or when a
rebalance takes a partition away and gives it back, the partition's state is reloaded from its
last durable checkpoint (the worker logs ``partition N: state loaded, next offset S``) and the
pings records from ``S`` on are run again, so the outputs they gave before are published again.
That re-publication is the only legitimate way one alert version can be on the topic twice.

So a *run* of a partition is what one load of its state produced: the records of partition
``N`` stamped after that load and before the next one. The verdicts:

- the same ``(id, version)`` twice in one run: a duplicate (the engine raised it twice);
- the same ``(id, version)`` again in a later run that started *after* the batch of the earlier
  copy (``S`` > that batch's last offset): a duplicate (a checkpoint covered the work that
  raised it, yet it came again);
- more than one open version (``ended_ts`` null) or more than one ended version of an id, an
  ended version before the open one in the same run, or an open and an ended version that differ
  in more than ``ended_ts`` and the evidence: a broken version rule. The engine publishes an alert
  when it is raised and once more when its end is known (``stream.engine.alerts.update_alert``
  changes ``ended_ts`` and completes the evidence, nothing else); ``api.ports.alert_version``
  tells the versions apart.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import orjson

from api.ports import alert_version, supersedes
from stream.kafka.outputs import headers_dict
from stream.kafka.topics import Topics
from tests.stream.kafka.conftest import read_topic
from tests.stream.kafka.verify import differences

# A line of the worker's log (Faust's format: local time, milliseconds after a comma).
LOADED = re.compile(
    r"^\[(?P<when>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})\] \[\d+\] \[INFO\] "
    r"partition (?P<p>\d+): state loaded, next offset (?P<offset>-?\d+)"
)
# What an update of a raised alert may change (stream.engine.alerts.update_alert).
UPDATED = ("ended_ts", "evidence")


@dataclass(frozen=True)
class Copy:
    """One alert record: the alert, its version, the pings batch that raised it
    (``landun-batch`` header: partition, first and last offset) and when it was produced."""

    alert: dict
    version: str
    partition: int
    first: int
    last: int
    ts_ms: int
    where: str  # alerts topic partition:offset

    def __str__(self) -> str:
        return f"{self.where} (pings {self.partition}:{self.first}-{self.last}, t={self.ts_ms})"


@dataclass
class Census:
    """What :func:`census` found: every record, the legitimate re-publications, the faults."""

    records: int = 0
    ids: int = 0
    republished: int = 0  # copies of a version re-run after a reload (at-least-once)
    faults: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        head = f"{self.records} alert records, {self.ids} ids, {self.republished} re-run copies"
        return "\n".join([head, *self.faults[:40]])


def alert_copies(bootstrap: str, topics: Topics) -> list[Copy]:
    """Every record of the alerts topic up to its end offsets, in topic order."""
    out = []
    for rec in read_topic(bootstrap, topics.alerts):
        batch = headers_dict(rec.headers).get("landun-batch", "")
        p, _, span = batch.partition(":")
        first, _, last = span.partition("-")
        assert p and first and last, f"alert record {rec.partition}:{rec.offset} without a batch"
        alert = orjson.loads(rec.value)
        where = f"{rec.partition}:{rec.offset}"
        out.append(Copy(alert, alert_version(alert), int(p), int(first), int(last),
                        rec.timestamp, where))  # fmt: skip
    return out


def state_loads(log_dir: Path) -> dict[int, list[tuple[int, int]]]:
    """Partition -> ``(epoch ms, next offset)`` of every state load in the worker logs."""
    out: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for log in sorted(log_dir.glob("worker-*.log")):
        for line in log.read_text(errors="replace").splitlines():
            m = LOADED.match(line)
            if m:
                when = datetime.strptime(m["when"], "%Y-%m-%d %H:%M:%S,%f").timestamp()
                out[int(m["p"])].append((round(when * 1000), int(m["offset"])))
    return {p: sorted(loads) for p, loads in out.items()}


def final_alerts(copies: list[Copy]) -> dict[str, dict]:
    """The latest version of each id, kept as the system of record keeps it (an open version
    re-run after the ended one does not reopen the alert: ``api.ports.supersedes``)."""
    out: dict[str, dict] = {}
    for c in copies:
        if supersedes(c.alert, out.get(c.alert["id"])):
            out[c.alert["id"]] = c.alert
    return out


def census(copies: list[Copy], loads: dict[int, list[tuple[int, int]]]) -> Census:
    """Count duplicates and version-rule faults among ``copies`` (see the module docstring)."""
    found = Census(records=len(copies))
    by_id: dict[str, list[tuple[Copy, int]]] = defaultdict(list)
    for c in copies:
        run = _run_of(c, loads.get(c.partition, []))
        if run is None:
            found.faults.append(f"{c.alert['id']}: {c} before any state load of its partition")
            continue
        by_id[c.alert["id"]].append((c, run))
    found.ids = len(by_id)
    for aid, seen in by_id.items():
        found.republished += _copies_of_versions(aid, seen, loads, found.faults)
        _version_rule(aid, seen, found.faults)
    return found


def _run_of(c: Copy, loads: list[tuple[int, int]]) -> int | None:
    """Index of the last load of ``c``'s partition at or before ``c`` was produced."""
    runs = [i for i, (when, _) in enumerate(loads) if when <= c.ts_ms]
    return runs[-1] if runs else None


def _copies_of_versions(aid: str, seen, loads, faults: list[str]) -> int:
    """Fault every duplicate of a version; the number of legitimate re-run copies."""
    by_version: dict[str, list[tuple[Copy, int]]] = defaultdict(list)
    for c, run in seen:
        by_version[c.version].append((c, run))
    again = 0
    for version, group in by_version.items():
        for (a, run_a), (b, run_b) in zip(group, group[1:], strict=False):
            start = loads[b.partition][run_b][1]
            if run_a == run_b:
                faults.append(f"{aid} v{version}: twice in one run: {a} and {b}")
            elif run_b < run_a or start > a.last:
                faults.append(f"{aid} v{version}: again at {b}, in a run from offset {start} "
                              f"that a checkpoint covering {a} should have spared")  # fmt: skip
            else:
                again += 1
    return again


def _version_rule(aid: str, seen, faults: list[str]) -> None:
    """At most one open and one ended version; the open one first in any run that has both;
    the two differ only in what an update changes."""
    versions = {c.version: c.alert for c, _ in seen}
    opened = [a for a in versions.values() if not a.get("ended_ts")]
    ended = [a for a in versions.values() if a.get("ended_ts")]
    if len(opened) > 1 or len(ended) > 1:
        faults.append(f"{aid}: {len(opened)} open and {len(ended)} ended versions")
    if opened and ended:
        changed = sorted(k for k in opened[0].keys() | ended[0].keys()
                         if k not in UPDATED and opened[0].get(k) != ended[0].get(k))  # fmt: skip
        if changed:
            faults.append(f"{aid}: its ended version also changes {changed}")
    for run in {run for _, run in seen}:
        order = [bool(c.alert.get("ended_ts")) for c, r in seen if r == run]
        if True in order and False in order[order.index(True) :]:
            faults.append(f"{aid}: the open version after the ended one in one run")


def assert_alerts(bootstrap: str, topics: Topics, expected: dict[str, dict], log_dir: Path) -> dict:
    """Count the alerts topic's records (no fault allowed) and compare its final alerts with
    ``expected``, ids and contents (:func:`tests.stream.kafka.verify.differences`); the final
    alerts. ``log_dir`` holds the worker logs (``worker-*.log``)."""
    copies = alert_copies(bootstrap, topics)
    found = census(copies, state_loads(log_dir))
    print(found)
    assert not found.faults, f"duplicates or broken versions on the alerts topic: {found}"
    final = final_alerts(copies)
    diffs = differences(final, expected)
    assert not diffs, f"{len(diffs)} differences from the reference:\n" + "\n".join(diffs[:60])
    return final
