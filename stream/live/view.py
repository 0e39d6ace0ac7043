"""The worker's writer of the live view: latest positions into Redis.

After each micro-batch (outputs sent to Kafka) the runner hands over the latest accepted live
ping of every vehicle whose one changed (its pings, or a tick releasing buffered ones) and the
alerts it raised. The alerts only colour their vehicles (``stream.live.projection``): the time
until which each vehicle is drawn in violation is kept in the ``<prefix>:violating`` hash, so
the colour survives a restart or a rebalance. Positions are upserted with the event-time guard
(``stream.live.redis``) and announced on the bus. Alerts themselves are not stored here: the
alert sink (``landun alert-sink``) writes them to PostgreSQL and announces them. Everything is
idempotent, so a re-delivered batch changes nothing, and Redis can be rebuilt from Kafka
(``stream.live.rebuild``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from stream.live.projection import position_record, violating_until
from stream.live.redis import RedisBus, RedisLiveStore, client, unavailable
from stream.ping import Ping
from stream.registry import Registry

log = logging.getLogger(__name__)


class RedisLiveView:
    """Positions of the stream, coloured by its alerts, into the Redis live ports."""

    def __init__(self, url: str, prefix: str = "landun"):
        r = client(url)
        self.live = RedisLiveStore(r, prefix)
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
        """Write a batch's positions, coloured by its alerts (in a thread: the client is
        synchronous)."""
        await asyncio.to_thread(self.write, positions, alerts)

    def write(self, positions: list[Ping], alerts: list[dict]) -> None:
        """Record the alerts' violation times, then upsert and announce the positions."""
        until = ends_of_violations(alerts)
        self._read_violating({p.vehicle for p in positions} | until.keys())
        self._extend_violations(until)
        records = [self.position(p) for p in positions]
        fresh = self.live.upsert_many((r, p.ts) for r, p in zip(records, positions, strict=True))
        moved = [r for r, new in zip(records, fresh, strict=True) if new]
        if moved:
            self.bus.publish_many("positions", moved)

    def extend_violations(self, until: dict[str, int]) -> None:
        """Draw each vehicle as in violation up to ``until[vehicle]`` (event time), unless it
        already is for longer (a rebuild's way in: ``stream.live.rebuild``)."""
        self._read_violating(set(until))
        self._extend_violations(until)

    def _extend_violations(self, until: dict[str, int]) -> None:
        changed = {v: t for v, t in until.items() if t > self._violating.get(v, -1)}
        if changed:  # kept in Redis: after a restart or a rebalance the colour stays
            with unavailable():
                self.live.r.hset(self._violating_key, mapping=changed)
            self._violating.update(changed)

    def _read_violating(self, vehicles: set[str]) -> None:
        """Read the batch's vehicles' violation end times, every batch: a partition can move
        between workers and back, so a value cached here could be stale."""
        names = sorted(vehicles)
        self._violating = {}
        if names:
            with unavailable():
                stored = self.live.r.hmget(self._violating_key, names)
            for vehicle, until in zip(names, stored, strict=True):
                self._violating[vehicle] = int(until) if until is not None else -1

    def position(self, ping: Ping) -> dict:
        """The API's position record for an accepted ping."""
        vehicle = self.registry.vehicles.get(ping.vehicle) if self.registry else None
        return position_record(
            ping.vehicle,
            ping.ts,
            ping.lat,
            ping.lng,
            speed_kmh=ping.speed_kmh,
            heading=ping.heading,
            loaded=ping.loaded,
            district=vehicle.district if vehicle else None,
            kind=vehicle.kind if vehicle else None,
            violating=self._violating.get(ping.vehicle, -1),
        )


def ends_of_violations(
    alerts: Iterable[dict], into: dict[str, int] | None = None
) -> dict[str, int]:
    """Vehicle -> the latest event time until which its alerts (any versions) draw it in
    violation (:func:`stream.live.projection.violating_until`), added to ``into`` if given."""
    until = {} if into is None else into
    for alert in alerts:
        vehicle = alert["vehicle"]
        until[vehicle] = max(until.get(vehicle, -1), violating_until(alert))
    return until
