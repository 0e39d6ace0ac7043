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
from itertools import islice

import orjson

from api.ports import AlertEvent, BBox, Ports, Record
from api.security import Principal
from stream.live.projection import tally

log = logging.getLogger(__name__)
TOPICS = ("positions", "alerts")
TEXT_CACHE = 20_000  # serialised alert events kept (one burst's worth)


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
        self.sending_since: float | None = None  # loop time a send started, for the watchdog
        self.wake = asyncio.Event()
        self.wake.set()

    def offer(self, position: Record, text: bytes | None = None) -> None:
        """Queue a position (and its JSON, serialised once for all clients) if it is in scope
        and in (or just leaving) the viewport."""
        # The hot path of the fan-out (vehicles x clients per second): kept to plain compares.
        district = self.who.district
        if district is not None and position.get("district") != district:
            return
        vehicle = position["vehicle"]
        bbox = self.bbox
        inside = bbox is None or (
            bbox[0] <= position["lng"] <= bbox[2] and bbox[1] <= position["lat"] <= bbox[3]
        )
        if not inside and vehicle not in self.shown:
            return
        pending = self.pending
        if vehicle not in pending and len(pending) >= self.cap:
            # Too far behind to coalesce: forget the backlog, send a fresh snapshot instead.
            pending.clear()
            self.resnapshot = True
        else:
            pending[vehicle] = (inside, text or orjson.dumps(position))
        self.wake.set()

    def set_viewport(self, bbox: BBox | None) -> None:
        """Change the viewport; the next frame is a snapshot of it."""
        self.bbox = bbox
        self.pending.clear()
        self.resnapshot = True
        self.wake.set()

    def take(self, limit: int) -> list[bytes]:
        """Remove up to ``limit`` queued positions, oldest first; return their JSON."""
        batch = []
        pending, shown = self.pending, self.shown
        for vehicle in list(islice(pending, limit)):
            inside, text = pending.pop(vehicle)
            if inside:
                shown.add(vehicle)
            else:
                shown.discard(vehicle)
            batch.append(text)
        return batch

    def snapshot_taken(self, rows: list[Record]) -> None:
        """Record that ``rows`` were sent as a snapshot."""
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
        self.sending_since: float | None = None
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

    def __init__(
        self, ports: Ports, metrics, counts_interval_s: float = 2.0, head_interval_s: float = 1.0
    ):
        self.ports = ports
        self.metrics = metrics
        self.head_interval_s = head_interval_s
        self.live_clients: set[LiveClient] = set()
        self._live_by_district: dict[str | None, set[LiveClient]] = {}
        self.alert_clients: set[AlertClient] = set()
        self.counts_interval_s = counts_interval_s
        self._subs: dict[str, object] = {}
        self._tasks: list[asyncio.Task] = []
        self._started = False
        self.resubscribe_s = 1.0
        self._per_user: Counter[str] = Counter()
        self._texts: dict[int, bytes] = {}

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

    @property
    def running(self) -> bool:
        """Subscribed to every topic right now (readiness)."""
        return self._started and len(self._subs) == len(TOPICS)

    async def start(self) -> None:
        """Subscribe and start fanning out. A bus that is down (Redis) is retried in the
        background: the API serves what it can meanwhile, and /readyz says the hub is not."""
        self._started = True
        self._tasks = [
            asyncio.create_task(self._follow("positions", self._on_position)),
            asyncio.create_task(self._follow("alerts", self._on_alert)),
            asyncio.create_task(self._count_loop()),
            asyncio.create_task(self._head_loop()),
        ]
        for _ in range(100):  # normally subscribed within a round trip
            if self.running or all(t.done() for t in self._tasks[:2]):
                break
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        self._started = False
        for sub in list(self._subs.values()):
            sub.close()
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _follow(self, topic: str, handle) -> None:
        """Keep a subscription to ``topic``, subscribing again after the bus failed."""
        while True:
            try:
                # Off the loop: subscribing to Redis waits for the server (up to its timeout).
                sub = await asyncio.to_thread(self.ports.bus.subscribe, topic)
            except Exception as exc:  # the bus is down: try again shortly
                log.warning("bus %s: cannot subscribe (%s); retrying", topic, exc)
                await asyncio.sleep(self.resubscribe_s)
                continue
            self._subs[topic] = sub
            if topic == "positions":
                self._resnapshot_all()  # positions published while we were away are lost
            try:
                await self._pump(sub, topic, handle)
                return  # closed by stop()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("bus %s: subscription failed (%s); resubscribing", topic, exc)
            finally:
                self._subs.pop(topic, None)
                sub.close()
            await asyncio.sleep(self.resubscribe_s)

    async def _pump(self, sub, topic: str, handle) -> None:
        counter = self.metrics.bus_messages.labels(topic)
        async for message in sub:
            counter.inc()
            try:
                handle(message)
            except (KeyError, TypeError, ValueError):
                # One malformed message must not stop the fan-out for everyone.
                log.exception("dropped malformed %s message: %.200r", topic, message)

    def _resnapshot_all(self) -> None:
        for client in self.live_clients:
            client.resnapshot = True
            client.wake.set()

    def add_live(self, client: LiveClient) -> None:
        """Start fanning positions out to ``client``."""
        self.live_clients.add(client)
        self._live_by_district.setdefault(client.who.district, set()).add(client)

    def remove_live(self, client: LiveClient) -> None:
        """Stop fanning positions out to ``client``."""
        self.live_clients.discard(client)
        self._live_by_district.get(client.who.district, set()).discard(client)

    def _on_position(self, position: Record) -> None:
        text = orjson.dumps(position)  # once, whatever the number of clients
        # Only the position's district's officers and the city-wide clients are asked.
        district = position.get("district")
        for client in self._live_by_district.get(None, ()):
            client.offer(position, text)
        if district is not None:
            for client in self._live_by_district.get(district, ()):
                client.offer(position, text)

    def _on_alert(self, message: Record) -> None:
        event = AlertEvent(message["seq"], message["kind"], message["alert"])
        for client in self.alert_clients:
            client.offer(event)

    def event_text(self, event: AlertEvent) -> bytes:
        """The event's JSON frame body, serialised once per event for all clients."""
        text = self._texts.get(event.seq)
        if text is None:
            text = orjson.dumps({"type": event.kind, "seq": event.seq, "alert": event.alert})
            self._texts[event.seq] = text
            while len(self._texts) > TEXT_CACHE:
                self._texts.pop(next(iter(self._texts)))
        return text

    async def _count_loop(self) -> None:
        while True:
            if self.live_clients:
                try:
                    # The store may be Redis: read off the event loop.
                    self.publish_counts(await asyncio.to_thread(self.ports.live.query))
                except Exception as exc:  # an outage: the next round tries again
                    log.warning("live counts unreadable: %s", exc)
            await asyncio.sleep(self.counts_interval_s)

    async def _head_loop(self) -> None:
        """Compare every client's cursor with the store's head each ``head_interval_s``: the
        bus is a hint (Redis pub/sub drops messages while a subscriber reconnects), so an
        event whose hint was lost is still delivered, read from the store."""
        while True:
            await asyncio.sleep(self.head_interval_s)
            if not self.alert_clients:
                continue
            try:
                head = await asyncio.to_thread(self.ports.alerts.head)
            except Exception as exc:  # an outage: the next round tries again
                log.warning("alert store head unreadable: %s", exc)
                continue
            for client in list(self.alert_clients):
                if client.cursor < head and not client.behind:
                    client.behind = True
                    client.wake.set()

    def publish_counts(self, rows: list[Record] | None = None) -> None:
        """Tally the city and each district once (``tally``, the route's counters too), then
        hand each client its scope's."""
        by_district: dict[str | None, list[Record]] = {}
        for p in self.ports.live.query() if rows is None else rows:
            by_district.setdefault(p.get("district"), []).append(p)
        tallies = {d: tally(rows_of) for d, rows_of in by_district.items()}
        tallies[None] = tally(p for rows_of in by_district.values() for p in rows_of)
        empty = tally(())
        for client in self.live_clients:
            counts = tallies.get(client.who.district, empty)
            if counts != client.counts:
                client.counts = counts
                client.counts_dirty = True
                client.wake.set()
