"""Synchronous producers (kafka-python): pings into the pings topic, reference data into theirs.

Pings are sent one of two ways, both understood by the worker (``stream.kafka.codec``):

- **single** records: key = vehicle id, value = the ping's JSON line as given;
- **batched** records (the default for bulk loads): the lines of one partition's vehicles
  joined into a JSON array, sent to that partition (``topics.partition_for``), up to
  ``batch_pings`` pings or ``batch_bytes`` bytes, or when ``linger_s`` has passed.

A line that is not a JSON object is still sent, alone and without a key, so that the worker
dead-letters it with its reason: producers carry data, the worker judges it. ``final()`` sends
an end-of-input control record to every partition (the worker then ends the run as ``landun
detect`` ends a file: reorder buffers released, a last tick at the watermark).
"""

from __future__ import annotations

import time
from collections.abc import Iterable

import orjson
from kafka import KafkaProducer

from stream.eventtime import parse_ts
from stream.kafka.records import RECEIVED_HEADER
from stream.kafka.reference import read_reference, reference_records
from stream.kafka.runner import CONTROL_HEADER, FINAL
from stream.kafka.topics import MAX_RECORD_BYTES, Topics, partition_for
from stream.wire_values import PingError


def make_producer(bootstrap: str, linger_ms: int = 5) -> KafkaProducer:
    """An idempotent, acks=all producer sized for batch records."""
    return KafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=linger_ms,
        batch_size=1 << 20,
        max_request_size=MAX_RECORD_BYTES + 4096,
        client_id="landun-producer",
    )


class PingSender:
    """Sends ping lines to the pings topic, batched per partition or one by one."""

    def __init__(
        self,
        producer: KafkaProducer,
        topics: Topics,
        partitions: int,
        batch_pings: int = 500,
        batch_bytes: int = 512 * 1024,
        linger_s: float = 0.02,
        clock=time.monotonic,
        stamp_event_time: bool = False,
    ):
        self.producer = producer
        # A file replayed (``landun ingest``) has no receive time: the worker would take the
        # record's wall-clock timestamp as ``received`` and reject a past night as too old. Such a
        # record carries the median event time of its pings in its ``landun-received`` header
        # instead (one broken clock in a batch cannot move a median), issue 11. A live source
        # stamps ``received`` itself.
        self.stamp_event_time = stamp_event_time
        self._times: dict[int, list[int]] = {}
        self.topics = topics
        self.partitions = partitions
        self.batch_pings = batch_pings
        self.batch_bytes = batch_bytes
        self.linger_s = linger_s
        self.clock = clock
        self.sent = 0  # lines handed to the producer
        self.records = 0
        self._open: dict[int, list[bytes]] = {}
        self._size: dict[int, int] = {}
        self._since: dict[int, float] = {}

    def send_line(self, line: bytes) -> None:
        """Queue one ping line (bytes of a JSON object, no newline)."""
        self.sent += 1
        vehicle, ts = _head(line, self.stamp_event_time)
        if vehicle is None:
            self._send(None, line, None)
            return
        p = partition_for(vehicle, self.partitions)
        if self.batch_pings <= 1:
            self._send(vehicle.encode("utf-8"), line, p, ts if self.stamp_event_time else None)
            return
        if self.stamp_event_time and ts is not None:
            self._times.setdefault(p, []).append(ts)
        lines = self._open.setdefault(p, [])
        if not lines:
            self._since[p] = self.clock()
            self._size[p] = 2
        lines.append(line)
        self._size[p] += len(line) + 1
        if len(lines) >= self.batch_pings or self._size[p] >= self.batch_bytes:
            self._flush_partition(p)

    def send_lines(self, lines: Iterable[bytes]) -> None:
        """Queue many lines, flushing partitions whose linger time has passed."""
        for i, line in enumerate(lines):
            self.send_line(line)
            if i % 256 == 255:
                self.flush_due()

    def flush_due(self) -> None:
        """Send every partition batch open for longer than ``linger_s``."""
        now = self.clock()
        for p in [p for p, t in self._since.items() if now - t >= self.linger_s]:
            self._flush_partition(p)

    def send_open(self) -> list:
        """Send every open batch now (without waiting), e.g. before a paced feed sleeps;
        returns the records' futures (kafka-python ``FutureRecordMetadata``)."""
        return [f for f in (self._flush_partition(p) for p in list(self._open)) if f is not None]

    def flush(self) -> None:
        """Send every open batch and wait until Kafka has everything."""
        self.send_open()
        self.producer.flush()

    def final(self) -> None:
        """Send the end-of-input control record to every partition (after the data)."""
        self.flush()
        for p in range(self.partitions):
            self.producer.send(
                self.topics.pings, value=b"", partition=p, headers=[(CONTROL_HEADER, FINAL)]
            )
        self.producer.flush()

    def _flush_partition(self, p: int):
        lines = self._open.pop(p, None)
        self._since.pop(p, None)
        self._size.pop(p, None)
        times = sorted(self._times.pop(p, ()))
        stamp = times[len(times) // 2] if times else None
        if lines:
            return self._send(None, b"[" + b",".join(lines) + b"]", p, stamp)
        return None

    def _send(
        self, key: bytes | None, value: bytes, partition: int | None, stamp: int | None = None
    ):
        self.records += 1
        # The stamp goes in a header, not the record timestamp: retention reads the timestamp
        # (stream.kafka.records.RECEIVED_HEADER).
        headers = [] if stamp is None else [(RECEIVED_HEADER, str(stamp).encode())]
        return self.producer.send(
            self.topics.pings, key=key, value=value, partition=partition, headers=headers
        )


def _head(line: bytes, with_time: bool) -> tuple[str | None, int | None]:
    """The vehicle id and (when ``with_time``) the event time in epoch ms of a ping line; None
    for what is not there or not asked for."""
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None, None
    if not isinstance(obj, dict):
        return None, None
    vehicle = obj.get("vehicle")
    if not (isinstance(vehicle, str) and vehicle):
        return None, None
    if not with_time:
        return vehicle, None
    try:
        ts = parse_ts(obj.get("ts"))
    except PingError:
        ts = None
    if ts is not None and not 0 <= ts < 2**63:
        ts = None  # Kafka timestamps are non-negative int64
    return vehicle, ts


def publish_reference(
    producer: KafkaProducer, topics: Topics, fences_path: str, registry_path: str
) -> int:
    """Publish a fences file and a registry file to the compacted topics; returns the count.

    Raises
    ------
    FenceError, RegistryError, OSError, orjson.JSONDecodeError
        When a file is unreadable or invalid: nothing is published then.
    """
    return publish_reference_data(producer, topics, *read_reference(fences_path, registry_path))


def publish_reference_data(
    producer: KafkaProducer, topics: Topics, fences: dict, registry: dict
) -> int:
    """Publish a fence FeatureCollection and a registry mapping; returns the record count."""
    records = list(reference_records(fences, registry))
    for kind, key, value in records:
        topic = topics.fences if kind == "fences" else topics.registry
        producer.send(topic, key=key, value=value)
    producer.flush()
    return len(records)


def publish_entry(
    producer: KafkaProducer, topics: Topics, kind: str, key: str, value: dict | None
) -> None:
    """Publish one reference change: ``kind`` ``fences`` (key = fence id, value = Feature) or
    ``registry`` (key = ``permits/P-1`` ...); ``None`` deletes (tombstone)."""
    topic = topics.fences if kind == "fences" else topics.registry
    body = None if value is None else orjson.dumps(value)
    producer.send(topic, key=key.encode("utf-8"), value=body)
    producer.flush()
