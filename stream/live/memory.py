"""In-memory twins of the live ports (embedded demo, tests), faithful to the Redis adapters.

Thread-safe: the embedded demo runs the engine in another thread than the event loop. Records
are stored and published as JSON, as Redis does, so that what Redis would refuse or change
(a tuple becomes a list) is refused or changed here too.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import math
import threading
from collections import deque

import orjson

from stream.live.ports import BBox, Record


def _json(record: Record) -> Record:
    # What a Redis round trip gives back.
    return orjson.loads(orjson.dumps(record))


class MemoryLiveStore:
    """Latest position per vehicle (forward-only in event time) and a bounded recent track."""

    def __init__(self, track_points: int = 720):
        self._latest: dict[str, tuple[int, Record]] = {}
        self._tracks: dict[str, list[tuple[int, Record]]] = {}
        self._track_points = track_points
        self._lock = threading.Lock()

    def upsert(self, position: Record, ts_ms: int) -> bool:
        vehicle = position["vehicle"]
        position = _json(position)
        with self._lock:
            track = self._tracks.setdefault(vehicle, [])
            # Late blind-area points are slotted in by event time; one point per event time.
            at = bisect.bisect_left(track, ts_ms, key=lambda point: point[0])
            if at < len(track) and track[at][0] == ts_ms:
                track[at] = (ts_ms, position)
            else:
                track.insert(at, (ts_ms, position))
            del track[: max(0, len(track) - self._track_points)]
            current = self._latest.get(vehicle)
            if current is not None and current[0] > ts_ms:
                return False
            self._latest[vehicle] = (ts_ms, position)  # same moment: new facts (state)
            return True

    def get(self, vehicle: str) -> Record | None:
        found = self._latest.get(vehicle)
        return dict(found[1]) if found else None

    def query(self, district: str | None = None, bbox: BBox | None = None) -> list[Record]:
        with self._lock:
            rows = [p for _, p in self._latest.values()]
        rows = [
            dict(p) for p in rows if in_district(p, district) and (bbox is None or in_bbox(p, bbox))
        ]
        rows.sort(key=lambda p: p["vehicle"])
        return rows

    def nearest(self, lat: float, lng: float, k: int, district: str | None = None) -> list[Record]:
        rows = self.query(district)
        rows.sort(key=lambda p: (haversine_m(lat, lng, p["lat"], p["lng"]), p["vehicle"]))
        return rows[: max(k, 0)]

    def track(self, vehicle: str, since_ms: int | None = None) -> list[Record]:
        with self._lock:
            points = list(self._tracks.get(vehicle, ()))
        return [dict(p) for t, p in points if since_ms is None or t >= since_ms]


def in_district(record: Record, district: str | None) -> bool:
    """True when ``district`` is None (the whole city) or the record's district."""
    return district is None or record.get("district") == district


def in_bbox(position: Record, bbox: BBox) -> bool:
    """True when the position lies in the (west, south, east, north) box."""
    west, south, east, north = bbox
    return west <= position["lng"] <= east and south <= position["lat"] <= north


def haversine_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance in metres.

    Examples
    --------
    >>> round(haversine_m(31.5, 120.3, 31.5, 120.3))
    0
    >>> round(haversine_m(0.0, 0.0, 0.0, 1.0))
    111195
    """
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_008.8 * math.asin(math.sqrt(h))


class Inbox:
    """A subscriber's bounded queue, fed from any thread, drained on its event loop.

    Messages from other threads wait here and cross to the loop in batches: one
    ``call_soon_threadsafe`` (a self-pipe write) per batch, not per message. ``None`` ends the
    iteration, and any later one; an exception is raised by it.
    """

    def __init__(self, maxsize: int):
        self._queue: asyncio.Queue = asyncio.Queue(maxsize)
        try:
            self._loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
            self._thread: int | None = threading.get_ident()
        except RuntimeError:  # made by a worker thread (a subscribe that blocks on the network
            self._loop = self._thread = None  # is run off the loop): bound when iterated
        self._pending: deque = deque()
        self._lock = threading.Lock()
        self._scheduled = False
        self._ended = False
        self.dropped = 0

    def deliver(self, message: Record | BaseException | None) -> None:
        """Queue a message (or the end, or an error) from any thread."""
        if self._thread is not None and threading.get_ident() == self._thread:
            self._put(message)
            return
        with self._lock:
            self._pending.append(message)
            if self._scheduled or self._loop is None:
                return  # drained when the loop is known, or already scheduled
            self._scheduled = True
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is listening
            self._loop.call_soon_threadsafe(self._drain)

    def _drain(self) -> None:
        with self._lock:
            batch, self._pending = self._pending, deque()
            self._scheduled = False
        for message in batch:
            self._put(message)

    def _put(self, message: Record | BaseException | None) -> None:
        try:
            self._queue.put_nowait(message)
        except asyncio.QueueFull:
            # Positions are coalesced anyway and alerts are re-read from the store by seq.
            self.dropped += 1
            if message is None or isinstance(message, BaseException):
                self._queue.get_nowait()  # the end must get through: drop a message instead
                self._queue.put_nowait(message)

    async def __aiter__(self):
        if self._loop is None:
            with self._lock:
                self._loop, self._thread = asyncio.get_running_loop(), threading.get_ident()
            self._drain()
        while not self._ended:
            message = await self._queue.get()
            if message is None:
                self._ended = True
                return
            if isinstance(message, BaseException):
                raise message
            yield message


class MemorySubscription:
    """One subscriber of a :class:`MemoryBus` topic."""

    def __init__(self, bus: MemoryBus, topic: str, maxsize: int):
        self._bus, self._topic = bus, topic
        self._inbox = Inbox(maxsize)

    @property
    def dropped(self) -> int:
        """Messages lost because the subscriber was too slow."""
        return self._inbox.dropped

    def deliver(self, message: bytes) -> None:
        """Queue a published message (JSON) from any thread."""
        self._inbox.deliver(orjson.loads(message))  # each subscriber its own copy, as Redis

    def __aiter__(self):
        return self._inbox.__aiter__()

    def close(self) -> None:
        self._bus.unsubscribe(self._topic, self)
        self._inbox.deliver(None)


class MemoryBus:
    """Publish/subscribe inside one process."""

    def __init__(self, queue_size: int = 100_000):
        self._subs: dict[str, list[MemorySubscription]] = {}
        self._queue_size = queue_size
        self._lock = threading.Lock()

    def publish(self, topic: str, message: Record) -> None:
        body = orjson.dumps(message)
        with self._lock:
            subs = list(self._subs.get(topic, ()))
        for sub in subs:
            sub.deliver(body)

    def subscribe(self, topic: str) -> MemorySubscription:
        sub = MemorySubscription(self, topic, self._queue_size)
        with self._lock:
            self._subs.setdefault(topic, []).append(sub)
        return sub

    def unsubscribe(self, topic: str, sub: MemorySubscription) -> None:
        with self._lock:
            if sub in self._subs.get(topic, ()):
                self._subs[topic].remove(sub)
