"""What the worker's runner reads and writes around the engine: pings records as it sees them,
the control headers, the table and live-view ports, and the offset arithmetic of a partition."""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, Protocol

CONTROL_HEADER = "landun-control"
FINAL = b"final"  # ends a finite input: the engine's finish runs, as at the end of a file
NUDGE = b"nudge"  # takes an offset and carries nothing (stream.kafka.worker: idle partitions)


class Tables(Protocol):
    """Reads and writes of the state table, in the context of a partition's record (Faust
    writes the changelog of that partition)."""

    def read(self, event: Any, key: bytes) -> bytes | None: ...

    def write(self, event: Any, items: dict[bytes, bytes]) -> list[Awaitable]:
        """Write the items; returns futures that resolve once they are durable."""
        ...


class LiveView(Protocol):
    """Where the latest positions go (Redis), with the batch's alerts to colour them (alerts
    themselves are stored from the alerts topic by the alert sink); may be absent."""

    def use_registry(self, registry: Any) -> None: ...

    async def publish(self, positions: list, alerts: list) -> None: ...


@dataclass(slots=True)
class Source:
    """One pings record as the runner needs it (made from a Faust event)."""

    partition: int
    offset: int
    value: bytes | None
    final: bool
    event: Any = None  # the Faust event: table writes happen in its partition's context
    timestamp: float | None = None  # the record's timestamp, epoch seconds
    nudge: bool = False  # a control record without pings (see worker.py: idle partitions)


def consecutive(group: list[Source], start: int) -> tuple[list[Source], int]:
    """The records of ``group`` at offsets ``start, start + 1, ...`` in order, and the next
    offset after them (other records are skipped over, not taken)."""
    taken = []
    expected = start
    for s in group:
        if s.offset == expected:
            taken.append(s)
            expected += 1
    return taken, expected
