"""The API's intake: positions, alerts and trips from the engine, into the stores and onto the bus.

The embedded demo calls :class:`Feed` directly (from any thread); in production the same calls
are made by the consumer of the engine's output topics. Bad records raise :class:`FeedError`
naming the problem; the caller decides to log or dead-letter them.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from api.ports import AlertEvent, Ports, Record
from stream.eventtime import parse_ts, to_iso
from stream.live.projection import (  # POSITION_STATES: also for api.hub, api.routes.live
    OFFLINE_MS,
    POSITION_STATES,
    position_record,
    violating_until,
)

log = logging.getLogger(__name__)
ALERT_FIELDS = ("id", "type", "vehicle", "district", "severity", "ts", "lat", "lng")


class FeedError(ValueError):
    """A record from the engine that cannot be used; the message names the field."""


def _number(raw: Record, key: str, low: float, high: float) -> float:
    value = raw.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise FeedError(f"{raw.get('vehicle')!r}: {key} must be a finite number, got {value!r}")
    if not low <= value <= high:
        raise FeedError(f"{raw.get('vehicle')!r}: {key} {value} outside [{low}, {high}]")
    return float(value)


def _state(raw: Record) -> str | None:
    state = raw.get("state")
    if state is not None and state not in POSITION_STATES:
        raise FeedError(f"{raw.get('vehicle')!r}: unknown state {state!r}")
    return state


class Feed:
    """Writes engine output into the ports and publishes what changed."""

    def __init__(self, ports: Ports):
        self._ports = ports
        self._violating: dict[str, int] = {}  # vehicle -> event time until which it shows red

    def position(self, raw: Record) -> Record | None:
        """Normalise a position (WGS-84) and store it; publish and return it if it is the
        vehicle's newest, else return None (older positions only join the track).

        Raises
        ------
        FeedError
            Missing vehicle, bad time, non-finite or out-of-range coordinates, unknown state.
        """
        vehicle = raw.get("vehicle")
        if not isinstance(vehicle, str) or not vehicle:
            raise FeedError(f"position without a vehicle id: {raw!r:.120}")
        try:
            ts_ms = parse_ts(raw.get("ts"))
        except ValueError as exc:
            raise FeedError(f"{vehicle!r}: bad ts: {exc}") from None
        registered: dict[str, Any] = self._ports.vehicles.get(vehicle) or {}
        position = position_record(
            vehicle,
            ts_ms,
            _number(raw, "lat", -90, 90),
            _number(raw, "lng", -180, 180),
            speed_kmh=raw.get("speed_kmh"),
            heading=raw.get("heading"),
            loaded=raw.get("loaded"),
            district=raw.get("district") or registered.get("district"),
            kind=raw.get("kind") or registered.get("kind"),
            violating=self._violating.get(vehicle, -1),
            state=_state(raw),
        )
        if not self._ports.live.upsert(position, ts_ms):
            return None
        self._ports.bus.publish("positions", position)
        return position

    def alert(self, alert: Record) -> AlertEvent | None:
        """Store a new or updated alert and publish the event; None when nothing changed.

        Raises
        ------
        FeedError
            A required field is missing or the time is unreadable.
        """
        missing = [k for k in ALERT_FIELDS if alert.get(k) is None and k != "district"]
        if missing:
            raise FeedError(f"alert {alert.get('id')!r} lacks {', '.join(missing)}")
        try:
            # Times leave the API as ISO +08:00 whatever the producer used (contract: Time).
            times = {k: to_iso(parse_ts(alert[k])) for k in ("ts", "ended_ts") if alert.get(k)}
        except ValueError as exc:
            raise FeedError(f"alert {alert['id']!r}: bad time: {exc}") from None
        event = self._ports.alerts.put({**alert, **times})
        if event is not None:
            self.announce(event)
            vehicle = alert["vehicle"]
            self._violating[vehicle] = max(self._violating.get(vehicle, 0), violating_until(alert))
        return event

    def mark_offline(self, now_ms: int | None = None, after_ms: int = OFFLINE_MS) -> int:
        """Show vehicles silent for more than ``after_ms`` before ``now_ms`` (event time, e.g.
        the engine's watermark; None: the newest position's time, the fleet's data-time front)
        as offline; returns how many changed."""
        changed = 0
        positions = self._ports.live.query()
        if now_ms is None:
            now_ms = max((parse_ts(p["ts"]) for p in positions), default=None)
            if now_ms is None:
                return 0
        for position in positions:
            ts_ms = parse_ts(position["ts"])
            if position["state"] != "offline" and ts_ms < now_ms - after_ms:
                offline = {**position, "state": "offline"}
                if self._ports.live.upsert(offline, ts_ms):
                    self._ports.bus.publish("positions", offline)
                    changed += 1
        return changed

    def load_reference(self, fences: Record | None = None, registry: Record | None = None) -> None:
        """Load reference data: a fence FeatureCollection and a ``registry.json`` mapping."""
        for feature in (fences or {}).get("features", ()):
            self._ports.fences.put(feature)
        registry = registry or {}
        for name, store in (
            ("vehicles", self._ports.vehicles),
            ("permits", self._ports.permits),
            ("contracts", self._ports.contracts),
        ):
            for record in registry.get(name, ()):
                store.put(record)

    def announce(self, event: AlertEvent) -> bool:
        """Publish an alert event (also used after case transitions); False when the bus is
        down. Best effort: the event is already stored, the bus only hints at it, and every
        API process compares its clients' cursors with the store's head each second (api.hub),
        so a lost hint delays the event by about that. Failing here would answer 503 to a
        transition that was committed, or make the alert sink retry stored alerts."""
        message = {"seq": event.seq, "kind": event.kind, "alert": event.alert}
        try:
            self._ports.bus.publish("alerts", message)
        except Exception as exc:  # ServiceUnavailable, or whatever a bus adapter raises
            log.warning("alert event %d not announced (%s); clients catch up", event.seq, exc)
            return False
        return True

    def trip(self, trip: Record) -> None:
        """Store a trip (engine-defined fields; needs ``id`` and ``vehicle``)."""
        if not trip.get("id") or not trip.get("vehicle"):
            raise FeedError(f"trip without id or vehicle: {trip!r:.120}")
        self._ports.trips.put(trip)
