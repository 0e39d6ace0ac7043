"""What the worker's runner reads and writes around the engine: pings records as it sees them,
the control headers, the table and live-view ports, and the offset arithmetic of a partition."""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, Protocol

CONTROL_HEADER = "landun-control"
FINAL = b"final"  # ends a finite input: the engine's finish runs, as at the end of a file
NUDGE = b"nudge"  # takes an offset and carries nothing (stream.kafka.worker: idle partitions)
# When a file's pings were received (``landun ingest``: the median event time of a record's
# pings), as ASCII epoch ms. Not the record timestamp: the broker's time-based retention reads
# that, and deleted a replayed past night's records before the archive consumer read them.
RECEIVED_HEADER = "landun-received"


def received_seconds(headers: dict, timestamp_s: float | None) -> float | None:
    """When a pings record was received, epoch seconds: its ``landun-received`` header when it
    carries a valid one, else its timestamp (a live producer's send time).

    Examples
    --------
    >>> received_seconds({RECEIVED_HEADER: b"1748869200000"}, 1796550000.0)
    1748869200.0
    >>> received_seconds({RECEIVED_HEADER: b"soon"}, 1796550000.0)
    1796550000.0
    """
    raw = headers.get(RECEIVED_HEADER)
    if raw is not None:
        try:
            ms = int(raw)
        except (TypeError, ValueError):
            ms = -1
        if ms >= 0:
            return ms / 1000.0
    return timestamp_s


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
