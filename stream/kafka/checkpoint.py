"""One partition's engine state and its checkpoints into the worker's tables.

The engine keeps fleet-wide state per run (:class:`~stream.engine.EngineState`: vehicles plus the
watermark, tick schedule and the vehicles far ahead of it). A partition of the pings topic is one
such run. It is stored in one Faust table, ``state``, co-partitioned with the pings:

- key ``v/<slot>/<vehicle id>``: the vehicle's state (JSON of ``VehicleState.to_dict``) in one
  of two slots, ``0`` and ``1``;
- key ``p/<N>``: the partition's *meta*: the engine's fleet-level fields, the partition's
  vehicles with the slot holding each one's state, and ``next_offset``, the first pings offset
  whose effect is not in the state.

One table, so one changelog partition holds a partition's whole checkpoint, the meta written
last: Kafka keeps a partition's records in order, so a meta that survived a crash comes with
every vehicle state it lists (with two topics a kill -9 could keep the meta and lose states).
The converse needs the slots: a kill -9 in the middle of a checkpoint keeps some new vehicle
states without the new meta. They went to the slot the surviving meta does not point to
(shadow paging), so the old meta still finds the states that match its ``next_offset``.

``next_offset`` makes the state exactly-once although Faust is at-least-once: after a crash Faust
re-delivers from the last committed offset, and records below ``next_offset`` are skipped (their
outputs were delivered before the checkpoint was written, see ``stream.kafka.worker``).

A checkpoint writes only vehicles whose serialised state changed: the vehicles of the batch and
of the events, or every vehicle when the batch ticked (a tick may touch any).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import orjson

from stream.engine import EngineState, VehicleState

META_VERSION = 2


def meta_key(partition: int) -> bytes:
    """Key of a partition's meta in the ``state`` table."""
    return b"p/%d" % partition


def vehicle_key(vehicle: str, slot: int) -> bytes:
    """Key of a vehicle's state in slot 0 or 1 of the ``state`` table."""
    return b"v/%d/" % slot + vehicle.encode("utf-8")


class PartitionRun:
    """The engine state of one partition plus what its last checkpoint wrote."""

    def __init__(self, partition: int, states: EngineState, next_offset: int = -1):
        self.partition = partition
        self.states = states
        self.next_offset = next_offset  # -1: nothing processed yet
        self.written: dict[str, bytes] = {}  # vehicle -> its state as last checkpointed
        self.slots: dict[str, int] = {}  # vehicle -> the slot its checkpointed state is in
        # vehicle -> event time of the position last handed to the live view (not saved:
        # after a reload every vehicle is shown again; the view ignores older positions).
        self.shown: dict[str, int] = {}

    @classmethod
    def load(
        cls, partition: int, meta: bytes | None, vehicle: Callable[[str, int], bytes | None]
    ) -> PartitionRun:
        """Rebuild from a checkpoint: ``meta`` bytes and a look-up ``vehicle(id, slot)`` of
        vehicle state bytes.

        A vehicle listed in the meta but missing from the table is a broken checkpoint: it
        raises ``KeyError`` naming the vehicle rather than silently starting it afresh.
        """
        if meta is None:
            return cls(partition, EngineState())
        doc = orjson.loads(meta)
        if doc.get("version") != META_VERSION:
            raise ValueError(
                f"partition {partition}: checkpoint version {doc.get('version')!r}, this worker "
                f"reads {META_VERSION}: start from a fresh namespace or an empty state changelog"
            )
        vehicles: dict[str, dict] = {}
        written: dict[str, bytes] = {}
        for vid, slot in doc["vehicles"].items():
            raw = vehicle(vid, slot)
            if raw is None:
                raise KeyError(f"partition {partition}: checkpoint lists {vid!r} without state")
            written[vid] = raw
            vehicles[vid] = orjson.loads(raw)
        engine = {**doc["engine"], "vehicles": vehicles}
        run = cls(partition, EngineState.from_dict(engine), doc["next_offset"])
        run.written = written
        run.slots = dict(doc["vehicles"])
        return run

    def checkpoint(
        self, touched: Iterable[str], everyone: bool
    ) -> tuple[bytes, dict[bytes, bytes]]:
        """Serialise the partition: its meta, and the vehicles whose state changed, each into
        the slot the previous meta does not point to.

        Parameters
        ----------
        touched : iterable of str
            Vehicles the last batch may have changed.
        everyone : bool
            Compare every vehicle (after a tick or ``finish``).

        Returns
        -------
        (bytes, dict)
            The meta value and ``{table key: state bytes}`` to write (before the meta).
        """
        states = self.states
        changed: dict[bytes, bytes] = {}
        names = states.vehicles.keys() if everyone else touched
        for vid in names:
            vs: VehicleState | None = states.vehicles.get(vid)
            if vs is None:
                continue
            raw = orjson.dumps(vs.to_dict())
            if self.written.get(vid) != raw:
                slot = 1 - self.slots.get(vid, 1)
                changed[vehicle_key(vid, slot)] = raw
                self.written[vid] = raw
                self.slots[vid] = slot
        fleet = EngineState({}, states.watermark, states.next_tick, states.arrivals, states.ahead)
        engine = fleet.to_dict()
        del engine["vehicles"]
        meta = {
            "version": META_VERSION,
            "partition": self.partition,
            "next_offset": self.next_offset,
            "engine": engine,
            "vehicles": {vid: self.slots[vid] for vid in sorted(states.vehicles)},
        }
        return orjson.dumps(meta), changed

    def snapshot(self) -> dict:
        """The whole engine state as a JSON-ready dict (tests compare it with a rebuild)."""
        return self.states.to_dict()
