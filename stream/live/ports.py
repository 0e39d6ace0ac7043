"""Ports of the live read model: latest positions with their recent tracks, and the bus.

The stream workers write them (``stream.live.view``), the API reads them (``api.ports``
re-exports these names). ``stream.live.memory`` holds the in-memory twins (embedded demo,
tests), ``stream.live.redis`` the Redis adapters; both pass the same tests
(``tests/live/test_live_ports.py``).

Records are plain JSON objects (dicts) in the shapes of the shared contracts. District scope is
passed as ``district`` (None = the whole city); filtering by it is the store's job so that no
caller can forget it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Protocol

Record = dict[str, Any]
BBox = tuple[float, float, float, float]  # west, south, east, north (lng, lat, lng, lat), WGS-84


class LiveStore(Protocol):
    """Latest position per vehicle, plus a short recent track.

    Positions are JSON objects with at least ``vehicle``, ``lat`` and ``lng`` (WGS-84) and
    optionally ``district``. What is returned is the caller's own copy.
    """

    def upsert(self, position: Record, ts_ms: int) -> bool:
        """Store ``position`` if it is at least as new in event time as the current one; True
        if it was. Every position joins the track in event-time order, older ones too (late
        blind-area batches); the track keeps one position per event time (the last written)
        and drops its oldest beyond its bound."""

    def get(self, vehicle: str) -> Record | None:
        """Latest position of ``vehicle``."""

    def query(self, district: str | None = None, bbox: BBox | None = None) -> list[Record]:
        """Latest positions of the vehicles in ``district`` whose position lies in ``bbox``,
        ordered by vehicle id."""

    def nearest(self, lat: float, lng: float, k: int, district: str | None = None) -> list[Record]:
        """Up to ``k`` latest positions nearest to (lat, lng), nearest first (then by vehicle
        id)."""

    def track(self, vehicle: str, since_ms: int | None = None) -> list[Record]:
        """Recent positions of ``vehicle`` in event-time order, from ``since_ms`` on."""


class Subscription(Protocol):
    """Messages of one topic, in publication order.

    Every message published after :meth:`Bus.subscribe` returned is delivered, until
    :meth:`close`; a subscriber too slow to keep up loses messages (they are hints: the stores
    are the truth to resync from).
    """

    def __aiter__(self) -> AsyncIterator[Record]: ...

    def close(self) -> None:
        """Stop receiving: the iteration ends, and nothing published afterwards arrives."""


class Bus(Protocol):
    """Process-wide publish/subscribe of JSON objects. Topics: ``positions``, ``alerts``."""

    def publish(self, topic: str, message: Record) -> None:
        """Publish without waiting for subscribers; safe to call from any thread."""

    def subscribe(self, topic: str) -> Subscription:
        """Subscribe to a topic, from the subscriber's event loop (the API holds one
        subscription per topic per process)."""
