"""In-memory twins of the ports (embedded demo and tests). Thread-safe: the embedded demo may run
the engine in another thread than the event loop."""

from __future__ import annotations

import asyncio
import bisect
import dataclasses
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable

from api import cases
from api.eventtime import parse_ts, to_iso
from api.ports import AlertEvent, AlertQuery, BBox, Ports, Record, supersedes
from api.security import User


class MemoryLiveStore:
    """Latest position per vehicle (forward-only in event time) and a bounded recent track."""

    def __init__(self, track_points: int = 720):
        self._latest: dict[str, tuple[int, Record]] = {}
        self._tracks: dict[str, list[tuple[int, Record]]] = {}
        self._track_points = track_points
        self._lock = threading.Lock()

    def upsert(self, position: Record, ts_ms: int) -> bool:
        vehicle = position["vehicle"]
        with self._lock:
            current = self._latest.get(vehicle)
            if current is not None and current[0] == ts_ms:
                self._latest[vehicle] = (ts_ms, position)  # same moment, new facts (state)
                return True
            track = self._tracks.setdefault(vehicle, [])
            # Late blind-area points are slotted into the track in event-time order.
            keys = [t for t, _ in track[-64:]]
            if not keys or ts_ms >= keys[-1]:
                track.append((ts_ms, position))
            else:
                at = len(track) - len(keys) + bisect.bisect_right(keys, ts_ms)
                track.insert(at, (ts_ms, position))
            del track[: max(0, len(track) - self._track_points)]
            if current is not None and current[0] > ts_ms:
                return False
            self._latest[vehicle] = (ts_ms, position)
            return True

    def get(self, vehicle: str) -> Record | None:
        found = self._latest.get(vehicle)
        return found[1] if found else None

    def query(self, district: str | None = None, bbox: BBox | None = None) -> list[Record]:
        with self._lock:
            rows = [p for _, p in self._latest.values()]
        return [p for p in rows if _in_scope(p, district) and (bbox is None or in_bbox(p, bbox))]

    def nearest(self, lat: float, lng: float, k: int, district: str | None = None) -> list[Record]:
        rows = self.query(district)
        rows.sort(key=lambda p: haversine_m(lat, lng, p["lat"], p["lng"]))
        return rows[:k]

    def track(self, vehicle: str, since_ms: int | None = None) -> list[Record]:
        with self._lock:
            points = list(self._tracks.get(vehicle, ()))
        return [p for t, p in points if since_ms is None or t >= since_ms]


def _in_scope(record: Record, district: str | None) -> bool:
    return district is None or record.get("district") == district


def in_bbox(position: Record, bbox: BBox) -> bool:
    """True when the position lies in the (west, south, east, north) box."""
    west, south, east, north = bbox
    return west <= position["lng"] <= east and south <= position["lat"] <= north


def haversine_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_008.8 * math.asin(math.sqrt(h))


class MemoryAlertStore:
    """Alerts by id with their case, and a bounded, ordered event log for resume."""

    def __init__(self, log_size: int = 100_000, clock: Callable[[], float] = time.time):
        self._clock = clock  # wall clock: when the system filed a case, not event time
        self._alerts: dict[str, Record] = {}
        self._ts: dict[str, int] = {}
        self._log: deque[AlertEvent] = deque(maxlen=log_size)
        self._seq = 0
        self._lock = threading.Lock()

    def put(self, alert: Record) -> AlertEvent | None:
        body = {k: v for k, v in alert.items() if k != "case"}
        with self._lock:
            old = self._alerts.get(body["id"])
            if old is not None and {k: v for k, v in old.items() if k != "case"} == body:
                return None
            if not supersedes(body, old):
                return None
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

    def transition(self, alert_id: str, to: str, by: str, at: str, note: str) -> AlertEvent:
        with self._lock:
            alert = self._alerts[alert_id]
            alert["case"] = cases.transition(alert["case"], to, by, at, note)
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
    case = alert["case"]
    history = [dict(e) for e in case["history"]]
    return {**alert, "case": {"state": case["state"], "history": history}}


def _matches(alert: Record, ts_ms: int, q: AlertQuery) -> bool:
    return (
        _in_scope(alert, q.district)
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

    def delete(self, record_id: str) -> bool:
        with self._lock:
            return self._records.pop(record_id, None) is not None


class MemorySubscription:
    """One subscriber's queue, fed from any thread, drained on its event loop."""

    def __init__(self, bus: MemoryBus, topic: str, maxsize: int):
        self._bus, self._topic = bus, topic
        self._queue: asyncio.Queue = asyncio.Queue(maxsize)
        self._loop = asyncio.get_running_loop()
        self._thread = threading.get_ident()
        # Messages from other threads wait here and cross to the loop in batches: one
        # call_soon_threadsafe (a self-pipe write) per batch, not per message.
        self._inbox: deque = deque()
        self._lock = threading.Lock()
        self._scheduled = False
        self.dropped = 0

    def deliver(self, message: Record | None) -> None:
        if threading.get_ident() == self._thread:
            self._put(message)
            return
        with self._lock:
            self._inbox.append(message)
            if self._scheduled:
                return
            self._scheduled = True
        self._loop.call_soon_threadsafe(self._drain_inbox)

    def _drain_inbox(self) -> None:
        with self._lock:
            batch, self._inbox = self._inbox, deque()
            self._scheduled = False
        for message in batch:
            self._put(message)

    def _put(self, message: Record | None) -> None:
        try:
            self._queue.put_nowait(message)
        except asyncio.QueueFull:
            # Positions are coalesced anyway and alerts are re-read from the store by seq.
            self.dropped += 1

    async def __aiter__(self):
        while True:
            message = await self._queue.get()
            if message is None:
                return
            yield message

    def close(self) -> None:
        self._bus.unsubscribe(self._topic, self)
        self.deliver(None)


class MemoryBus:
    """Publish/subscribe inside one process."""

    def __init__(self, queue_size: int = 100_000):
        self._subs: dict[str, list[MemorySubscription]] = {}
        self._queue_size = queue_size
        self._lock = threading.Lock()

    def publish(self, topic: str, message: Record) -> None:
        with self._lock:
            subs = list(self._subs.get(topic, ()))
        for sub in subs:
            sub.deliver(message)

    def subscribe(self, topic: str) -> MemorySubscription:
        sub = MemorySubscription(self, topic, self._queue_size)
        with self._lock:
            self._subs.setdefault(topic, []).append(sub)
        return sub

    def unsubscribe(self, topic: str, sub: MemorySubscription) -> None:
        with self._lock:
            if sub in self._subs.get(topic, ()):
                self._subs[topic].remove(sub)


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
