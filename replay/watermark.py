"""How far the worker's verdicts are complete: its durable checkpoints' ``next_offset`` (issue 12).

The archive writes a pings record only once every dead letter the worker will ever send for it
is in the rejected topic. The worker sends a batch's outputs (dead letters included), waits for
Kafka to acknowledge all of them, and only then writes the partition's checkpoint, whose *meta*
(key ``p/<N>`` in the state changelog, ``stream.kafka.checkpoint``) says ``next_offset``: every
record below it has its outputs in Kafka. That is the watermark read here.

The worker group's committed offset is not used: the runner acks records to Faust only once a
checkpoint covers them, so it is normally at or below the meta's, but Faust has been seen to
commit past unacknowledged records after a kill -9 (``stream.kafka.runner.Runner._complete``);
the records between are then redone by the next owner and their dead letters come later. The
meta is exact in both cases.

The changelog is compacted and holds every vehicle's state, so it is not read whole: the meta is
the last record of each checkpoint, and the latest one is found by reading the partition's tail
(a window that grows until it holds a meta). A partition whose log end has not moved keeps the
value read before.
"""

from __future__ import annotations

import time

import orjson
from kafka import KafkaConsumer, TopicPartition

from stream.kafka.checkpoint import meta_key
from stream.kafka.topics import Topics

FIRST_WINDOW = 16  # the meta is usually the last record: between checkpoints, or idle
READ_TIMEOUT_S = 30.0


class WorkerWatermark:
    """``next_offsets()``: per pings partition, the first offset whose verdicts may be missing.

    Parameters
    ----------
    bootstrap : str
        Kafka bootstrap servers.
    topics : Topics
        The namespace (the changelog is ``{ns}-worker-state-changelog``).
    partitions : int
        Partitions of the pings topic (the changelog has as many).
    """

    def __init__(self, bootstrap: str, topics: Topics, partitions: int):
        self.changelog = topics.changelog("state")
        self.partitions = partitions
        self._consumer = KafkaConsumer(
            bootstrap_servers=bootstrap,
            enable_auto_commit=False,
            client_id="landun-archive-watermark",
            max_partition_fetch_bytes=16 * 1024 * 1024,
        )
        self._ends: dict[int, int] = {}  # changelog partition -> log end when last read
        self._known: dict[int, int] = {}  # pings partition -> next_offset of the latest meta

    def next_offsets(self) -> dict[int, int]:
        """The latest durable ``next_offset`` of each pings partition (0 before any)."""
        names = self._consumer.partitions_for_topic(self.changelog) or set()
        tps = [TopicPartition(self.changelog, p) for p in range(self.partitions) if p in names]
        if tps:
            ends = self._consumer.end_offsets(tps)
            begins = self._consumer.beginning_offsets(tps)
            for tp in tps:
                if ends[tp] != self._ends.get(tp.partition):
                    found = self._latest_meta(tp, begins[tp], ends[tp])
                    if found is not None:  # the watermark never goes back (a stale read)
                        before = self._known.get(tp.partition, 0)
                        self._known[tp.partition] = max(before, found)
                    self._ends[tp.partition] = ends[tp]
        return {p: self._known.get(p, 0) for p in range(self.partitions)}

    def _latest_meta(self, tp: TopicPartition, begin: int, end: int) -> int | None:
        window = FIRST_WINDOW
        while True:
            start = max(begin, end - window)
            found = self._last_meta_in(tp, start, end)
            if found is not None or start <= begin:
                return found
            window *= 4

    def _last_meta_in(self, tp: TopicPartition, start: int, end: int) -> int | None:
        """``next_offset`` of the last meta among the records at ``start..end-1``."""
        key = meta_key(tp.partition)
        consumer = self._consumer
        consumer.assign([tp])
        consumer.seek(tp, start)
        found = None
        deadline = time.monotonic() + READ_TIMEOUT_S
        while consumer.position(tp) < end:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{tp.topic}[{tp.partition}]: tail not read in time")
            for record in consumer.poll(timeout_ms=500).get(tp, []):
                if record.offset < end and record.key == key and record.value is not None:
                    found = orjson.loads(record.value)["next_offset"]
        return found

    def close(self) -> None:
        self._consumer.close()
