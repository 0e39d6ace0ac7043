"""The worker's writer of the live view: latest positions and alerts into Redis.

After each micro-batch (outputs sent to Kafka) the runner hands over the latest accepted live
ping of every vehicle whose one changed (its pings, or a tick releasing buffered ones) and the
alerts it raised. Positions are upserted with
the event-time guard (``api.redis_ports``) and announced on the bus; alerts are stored with
their case and appended to the alert stream, then announced. Everything is idempotent, so a
re-delivered batch changes nothing, and Redis can be rebuilt from Kafka (``stream.live.rebuild``).
"""

from __future__ import annotations

import asyncio
import logging

from api.eventtime import parse_ts, to_iso
from api.redis_ports import RedisAlertStore, RedisBus, RedisLiveStore, client
from stream.ping import Ping
from stream.registry import Registry

log = logging.getLogger(__name__)
MOVING_KMH = 5.0
VIOLATION_MS = 10 * 60_000  # as api.feed: an open alert shows its vehicle red this long


class RedisLiveView:
    """Positions and alerts of the stream into the Redis ports."""

    def __init__(self, url: str, prefix: str = "landun"):
        r = client(url)
        self.live = RedisLiveStore(r, prefix)
        self.alerts = RedisAlertStore(r, prefix)
        self.bus = RedisBus(r, url, prefix)
        self.registry: Registry | None = None
        # vehicle -> event time until which it is drawn as in violation (-1: none), for the
        # vehicles of the batch being written, read from the hash at _violating_key
        self._violating: dict[str, int] = {}
        self._violating_key = f"{prefix}:violating"

    @classmethod
    def from_url(cls, url: str, prefix: str = "landun") -> RedisLiveView:
        return cls(url, prefix)

    def use_registry(self, registry: Registry) -> None:
        """Vehicles' districts and kinds come from here (set on every reference change)."""
        self.registry = registry

    async def publish(self, positions: list[Ping], alerts: list[dict]) -> None:
        """Write a batch's positions and alerts (in a thread: the client is synchronous)."""
        await asyncio.to_thread(self.write, positions, alerts)

    def write(self, positions: list[Ping], alerts: list[dict]) -> None:
        events = [e for e in (self.alerts.put(a) for a in alerts) if e is not None]
        self._read_violating({p.vehicle for p in positions} | {a["vehicle"] for a in alerts})
        changed = {}
        for alert in alerts:
            start = parse_ts(alert["ts"])
            until = parse_ts(alert["ended_ts"]) if alert.get("ended_ts") else start + VIOLATION_MS
            vehicle = alert["vehicle"]
            if until > self._violating.get(vehicle, -1):
                self._violating[vehicle] = changed[vehicle] = until
        if changed:  # kept in Redis too: after a restart or a rebalance the colour stays
            self.live.r.hset(self._violating_key, mapping=changed)
        if events:
            self.bus.publish_many(
                "alerts", [{"seq": e.seq, "kind": e.kind, "alert": e.alert} for e in events]
            )
        records = [self.position(p) for p in positions]
        fresh = self.live.upsert_many((r, p.ts) for r, p in zip(records, positions, strict=True))
        moved = [r for r, new in zip(records, fresh, strict=True) if new]
        if moved:
            self.bus.publish_many("positions", moved)

    def _read_violating(self, vehicles: set[str]) -> None:
        """Read the batch's vehicles' violation end times, every batch: a partition can move
        between workers and back, so a value cached here could be stale."""
        names = sorted(vehicles)
        self._violating = {}
        if names:
            stored = self.live.r.hmget(self._violating_key, names)
            for vehicle, until in zip(names, stored, strict=True):
                self._violating[vehicle] = int(until) if until is not None else -1

    def position(self, ping: Ping) -> dict:
        """The API's position record for an accepted ping."""
        vehicle = self.registry.vehicles.get(ping.vehicle) if self.registry else None
        if ping.ts <= self._violating.get(ping.vehicle, -1):
            state = "violation"
        elif ping.loaded in ("half", "full"):
            state = "loaded"
        else:
            state = "on_trip" if (ping.speed_kmh or 0) > MOVING_KMH else "idle"
        return {
            "vehicle": ping.vehicle,
            "district": vehicle.district if vehicle else None,
            "kind": vehicle.kind if vehicle else None,
            "ts": to_iso(ping.ts),
            "lat": round(ping.lat, 7),
            "lng": round(ping.lng, 7),
            "speed_kmh": ping.speed_kmh,
            "heading": ping.heading,
            "state": state,
        }
