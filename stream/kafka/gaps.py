"""Reading a run of pings records straight from Kafka, outside Faust's consumer.

The runner needs every offset of a partition from its checkpoint on. When Faust hands over
records from further on (it resumed past the checkpoint), the missing ones are read here: a
consumer without a group, assigned to the one partition, from ``start`` up to ``end``.
"""

from __future__ import annotations

import asyncio
import time

from stream.kafka.records import CONTROL_HEADER, FINAL, NUDGE, Source, received_seconds

READ_TIMEOUT_S = 30.0


class GapReader:
    """``await reader(partition, start, end)``: the records at offsets ``start..end-1``.

    Fewer are returned when some no longer exist (retention): the runner reports those as a
    gap. ``TimeoutError`` when they are not all read within ``timeout_s``: the runner then
    leaves the partition out of the batch and tries again with the next one.
    """

    def __init__(self, bootstrap: str, topic: str, timeout_s: float = READ_TIMEOUT_S):
        self.bootstrap = bootstrap
        self.topic = topic
        self.timeout_s = timeout_s
        self._consumer = None
        self._lock = asyncio.Lock()

    async def __call__(self, partition: int, start: int, end: int) -> list[Source]:
        from aiokafka import TopicPartition

        async with self._lock:
            consumer = await self._started()
            tp = TopicPartition(self.topic, partition)
            consumer.assign([tp])
            consumer.seek(tp, start)
            out: list[Source] = []
            deadline = time.monotonic() + self.timeout_s
            while time.monotonic() < deadline:
                batch = await consumer.getmany(tp, timeout_ms=500, max_records=5000)
                for rec in batch.get(tp, []):
                    if rec.offset >= end:
                        return out
                    headers = dict(rec.headers or ())
                    control = headers.get(CONTROL_HEADER)
                    out.append(
                        Source(partition, rec.offset, rec.value, control == FINAL, None,
                               received_seconds(headers, rec.timestamp / 1000),
                               nudge=control == NUDGE)
                    )  # fmt: skip
                if out and out[-1].offset >= end - 1:
                    return out
                if not batch and await consumer.position(tp) >= end:
                    return out  # nothing more to read below end (records expired)
            raise TimeoutError(
                f"{self.topic}[{partition}]: offsets {start}..{end - 1} not read in "
                f"{self.timeout_s:.0f} s"
            )

    async def _started(self):
        if self._consumer is None:
            from aiokafka import AIOKafkaConsumer

            self._consumer = AIOKafkaConsumer(
                bootstrap_servers=self.bootstrap,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                client_id="landun-gap-reader",
                max_partition_fetch_bytes=16 * 1024 * 1024,
            )
            await self._consumer.start()
        return self._consumer

    async def close(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None
