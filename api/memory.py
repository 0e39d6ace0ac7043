"""In-memory twins of the ports (embedded demo and tests). Thread-safe: the embedded demo may run
the engine in another thread than the event loop. The live read model's twins
(``MemoryLiveStore``, ``MemoryBus``) live in ``stream.live.memory``."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable

from api import cases
from api.ports import AlertEvent, AlertQuery, Ports, Record, alert_version, supersedes
from api.security import User
from stream.eventtime import parse_ts, to_iso
from stream.live.memory import MemoryBus, MemoryLiveStore, in_district


class MemoryAlertStore:
    """Alerts by id with their case, and a bounded, ordered event log for resume."""

    def __init__(self, log_size: int = 100_000, clock: Callable[[], float] = time.time):
        self._clock = clock  # wall clock: when the system filed a case, not event time
        self._alerts: dict[str, Record] = {}
        self._ts: dict[str, int] = {}
        self._versions: dict[str, set[str]] = {}  # every version put, by alert id
        self._log: deque[AlertEvent] = deque(maxlen=log_size)
        self._seq = 0
        self._lock = threading.Lock()

    def put(self, alert: Record) -> AlertEvent | None:
        body = {k: v for k, v in alert.items() if k != "case"}
        version = alert_version(body)
        with self._lock:
            old = self._alerts.get(body["id"])
            seen = self._versions.setdefault(body["id"], set())
            if version in seen or not supersedes(body, old):
                seen.add(version)  # a re-delivered version never comes back (idempotent)
                return None
            seen.add(version)
            case = old["case"] if old else cases.new_case(to_iso(int(self._clock() * 1000)))
            self._alerts[body["id"]] = {**body, "case": case}
            self._ts[body["id"]] = parse_ts(body["ts"])
            return self._log_event("alert", body["id"])

    def get(self, alert_id: str) -> Record | None:
        with self._lock:
            found = self._alerts.get(alert_id)
            return _copy_alert(found) if found else None

    def query(self, q: AlertQuery) -> list[Record]:
        with self._lock:
            rows = [
                _copy_alert(a) for a in self._alerts.values() if _matches(a, self._ts[a["id"]], q)
            ]
        rows.sort(key=lambda a: (self._ts[a["id"]], a["id"]), reverse=True)
        return rows[: q.limit]

    def transition(
        self, alert_id: str, to: str, by: str, at: str, note: str, form: Record | None = None
    ) -> AlertEvent:
        with self._lock:
            alert = self._alerts[alert_id]
            alert["case"] = cases.transition(alert["case"], to, by, at, note, form)
            return self._log_event("case", alert_id)

    def head(self) -> int:
        return self._seq

    def events_after(self, seq: int, limit: int) -> tuple[list[AlertEvent], bool]:
        with self._lock:
            oldest = self._log[0].seq if self._log else self._seq + 1
            # A seq from the future means the store was rebuilt: the client must reload too.
            gap = seq + 1 < oldest or seq > self._seq
            start = max(0, seq + 1 - oldest)
            events = [self._log[i] for i in range(start, min(len(self._log), start + limit))]
        return events, gap

    def _log_event(self, kind: str, alert_id: str) -> AlertEvent:
        self._seq += 1
        event = AlertEvent(self._seq, kind, _copy_alert(self._alerts[alert_id]))
        self._log.append(event)
        return event


def _copy_alert(alert: Record) -> Record:
    # Callers get copies: the stored case history can only grow through ``transition``.
    return {**alert, "case": cases.from_history(alert["case"]["history"])}


def _matches(alert: Record, ts_ms: int, q: AlertQuery) -> bool:
    return (
        in_district(alert, q.district)
        and (q.type is None or alert.get("type") == q.type)
        and (q.state is None or alert["case"]["state"] == q.state)
        and (q.vehicle is None or alert.get("vehicle") == q.vehicle)
        and (q.since_ms is None or ts_ms >= q.since_ms)
        and (q.until_ms is None or ts_ms <= q.until_ms)
    )


class MemoryRecordStore:
    """Records by id."""

    def __init__(self, records: Iterable[Record] = ()):
        self._records: dict[str, Record] = {}
        self._lock = threading.Lock()
        for record in records:
            self.put(record)

    def list(self) -> list[Record]:
        with self._lock:
            return [self._records[k] for k in sorted(self._records)]

    def get(self, record_id: str) -> Record | None:
        return self._records.get(record_id)

    def put(self, record: Record) -> None:
        with self._lock:
            self._records[str(record["id"])] = record

    def create(self, record: Record) -> bool:
        record_id = str(record["id"])
        with self._lock:
            if record_id in self._records:
                return False
            self._records[record_id] = record
            return True

    def delete(self, record_id: str) -> bool:
        with self._lock:
            return self._records.pop(record_id, None) is not None


class MemoryUserStore:
    """Accounts by username (the ``UserStore`` protocol); a later user of the same name given
    to the constructor replaces an earlier one."""

    def __init__(self, users: Iterable[User] = ()):
        self._users = {u.username: u for u in users}
        self._lock = threading.Lock()

    def get(self, username: str) -> User | None:
        return self._users.get(username)

    def list(self) -> list[User]:
        with self._lock:
            return [self._users[k] for k in sorted(self._users)]

    def add(self, user: User) -> None:
        with self._lock:
            if user.username in self._users:
                raise ValueError(f"user {user.username!r} already exists")
            self._users[user.username] = user

    def set_password(self, username: str, password_hash: str) -> User:
        return self._change(username, password_hash=password_hash)

    def set_disabled(self, username: str, disabled: bool) -> User:
        return self._change(username, disabled=disabled)

    def _change(self, username: str, **changes) -> User:
        with self._lock:
            user = self._users[username]  # KeyError if unknown, as the protocol says
            changed = dataclasses.replace(user, generation=user.generation + 1, **changes)
            self._users[username] = changed
            return changed


def memory_ports(
    users: Iterable[User] = (),
    track_points: int = 720,
    alert_log_size: int = 100_000,
    clock: Callable[[], float] = time.time,
) -> Ports:
    """A full set of empty in-memory ports."""
    return Ports(
        live=MemoryLiveStore(track_points),
        alerts=MemoryAlertStore(alert_log_size, clock),
        trips=MemoryRecordStore(),
        fences=MemoryRecordStore(),
        vehicles=MemoryRecordStore(),
        permits=MemoryRecordStore(),
        contracts=MemoryRecordStore(),
        bus=MemoryBus(),
        users=MemoryUserStore(users),
    )
