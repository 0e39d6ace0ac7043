"""Fan-out: one bus subscription per topic per process, bounded outboxes per websocket client.

Positions are coalesced latest-per-vehicle in a dict bounded by ``ws_position_cap`` (beyond it
the client is resnapshotted from the live store instead). Alerts are queued in order; a client
whose queue passes ``ws_alert_queue`` is flagged for closing with 1013 and resyncs. Alert events
carry a global ``seq``; a client that sees a jump re-reads the missing events from the store, so
a message lost on the bus never becomes a gap on the wire.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter, deque

from api.feed import POSITION_STATES
from api.memory import in_bbox
from api.ports import AlertEvent, BBox, Ports, Record
from api.security import Principal

log = logging.getLogger(__name__)


class LiveClient:
    """Outbox of one ``/ws/live`` client: positions coalesced by vehicle."""

    def __init__(self, who: Principal, cap: int):
        self.who = who
        self.bbox: BBox | None = None
        self.pending: dict[str, Record] = {}
        self.shown: set[str] = set()  # vehicles last sent as inside the viewport
        self.cap = cap
        self.resnapshot = True  # the first frame is a snapshot of the caller's scope
        self.counts: dict[str, int] | None = None
        self.counts_dirty = False
        self.wake = asyncio.Event()
        self.wake.set()

    def offer(self, position: Record) -> None:
        """Queue a position if it is in scope and in (or just leaving) the viewport."""
        if not self.who.sees(position.get("district")):
            return
        vehicle = position["vehicle"]
        inside = self.bbox is None or in_bbox(position, self.bbox)
        if not inside and vehicle not in self.shown:
            return
        if vehicle not in self.pending and len(self.pending) >= self.cap:
            # Too far behind to coalesce: forget the backlog, send a fresh snapshot instead.
            self.pending.clear()
            self.resnapshot = True
        else:
            self.pending[vehicle] = position
        self.wake.set()

    def set_viewport(self, bbox: BBox | None) -> None:
        """Change the viewport; the next frame is a snapshot of it."""
        self.bbox = bbox
        self.pending.clear()
        self.resnapshot = True
        self.wake.set()

    def take(self, limit: int) -> list[Record]:
        """Remove and return up to ``limit`` queued positions, oldest first."""
        batch = []
        for vehicle in list(self.pending)[:limit]:
            position = self.pending.pop(vehicle)
            if self.bbox is None or in_bbox(position, self.bbox):
                self.shown.add(vehicle)
            else:
                self.shown.discard(vehicle)
            batch.append(position)
        return batch

    def snapshot_taken(self, rows: list[Record]) -> None:
        """Record that ``rows`` were sent as a snapshot."""
        self.resnapshot = False
        self.shown = {p["vehicle"] for p in rows}


class AlertClient:
    """Outbox of one ``/ws/alerts`` client: alert events in ``seq`` order."""

    def __init__(self, who: Principal, maxsize: int, cursor: int):
        self.who = who
        self.queue: deque[AlertEvent] = deque()
        self.maxsize = maxsize
        self.cursor = cursor  # the last global seq this client has processed
        self.behind = False  # a seq jump was seen: re-read from the store
        self.initial: str | None = None  # "snapshot" to send the current picture first
        self.initial_seq = cursor
        self.overflowed = asyncio.Event()
        self.wake = asyncio.Event()

    def offer(self, event: AlertEvent) -> None:
        """Take an event from the bus (any order, possibly with holes)."""
        if event.seq <= self.cursor:
            return
        if event.seq > self.cursor + 1:
            self.behind = True
        else:
            self.accept([event])
        self.wake.set()

    def accept(self, events: list[AlertEvent]) -> None:
        """Queue contiguous events read from the bus or the store."""
        for event in events:
            if event.seq <= self.cursor or self.overflowed.is_set():
                continue
            self.cursor = event.seq
            if not self.who.sees(event.alert.get("district")):
                continue
            if len(self.queue) >= self.maxsize:
                # The client will be closed with 1013 and resume from its last seq; holding
                # more would only grow memory.
                self.overflowed.set()
            else:
                self.queue.append(event)
        self.wake.set()


class Hub:
    """Owns the process's bus subscriptions and dispatches to the connected clients."""

    def __init__(self, ports: Ports, metrics, counts_interval_s: float = 2.0):
        self.ports = ports
        self.metrics = metrics
        self.live_clients: set[LiveClient] = set()
        self.alert_clients: set[AlertClient] = set()
        self.counts_interval_s = counts_interval_s
        self._subs: list = []
        self._tasks: list[asyncio.Task] = []
        self._per_user: Counter[str] = Counter()
        self.running = False

    def admit_user(self, username: str, limit: int) -> bool:
        """Count a new socket of ``username``; False (and not counted) beyond ``limit``."""
        if self._per_user[username] >= limit:
            return False
        self._per_user[username] += 1
        return True

    def release_user(self, username: str) -> None:
        """Forget one socket of ``username``."""
        self._per_user[username] -= 1
        if self._per_user[username] <= 0:
            del self._per_user[username]

    async def start(self) -> None:
        positions = self.ports.bus.subscribe("positions")
        alerts = self.ports.bus.subscribe("alerts")
        self._subs = [positions, alerts]
        self._tasks = [
            asyncio.create_task(self._pump(positions, "positions", self._on_position)),
            asyncio.create_task(self._pump(alerts, "alerts", self._on_alert)),
            asyncio.create_task(self._count_loop()),
        ]
        self.running = True

    async def stop(self) -> None:
        self.running = False
        for sub in self._subs:
            sub.close()
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _pump(self, sub, topic: str, handle) -> None:
        counter = self.metrics.bus_messages.labels(topic)
        async for message in sub:
            counter.inc()
            try:
                handle(message)
            except (KeyError, TypeError, ValueError):
                # One malformed message must not stop the fan-out for everyone.
                log.exception("dropped malformed %s message: %.200r", topic, message)

    def _on_position(self, position: Record) -> None:
        for client in self.live_clients:
            client.offer(position)

    def _on_alert(self, message: Record) -> None:
        event = AlertEvent(message["seq"], message["kind"], message["alert"])
        for client in self.alert_clients:
            client.offer(event)

    async def _count_loop(self) -> None:
        while True:
            if self.live_clients:
                self.publish_counts()
            await asyncio.sleep(self.counts_interval_s)

    def publish_counts(self) -> None:
        """Tally vehicles per district and state once, then hand each client its scope's sum."""
        tally = Counter((p.get("district"), p["state"]) for p in self.ports.live.query())
        for client in self.live_clients:
            mine = Counter()
            for (district, state), n in tally.items():
                if client.who.sees(district):
                    mine[state] += n
            counts = {"total": sum(mine.values()), **{s: mine[s] for s in POSITION_STATES}}
            if counts != client.counts:
                client.counts = counts
                client.counts_dirty = True
                client.wake.set()
