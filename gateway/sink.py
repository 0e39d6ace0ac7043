"""Where the gateway's pings go: a port with a Kafka and an in-process implementation (issue 14).

A terminal's positions are acknowledged only once the sink has them safely:
:meth:`PingSink.publish` returns when they are stored and raises :class:`SinkUnavailable`
when they are not (the connection then sends no acknowledgement and the terminal, which keeps
its buffer, sends them again).

- :class:`KafkaSink`: through :class:`stream.kafka.producer.PingSender`, the batched producer of
  the other ingest paths (many pings per record, per partition, a short linger: the worker's
  cost is per record). Pings of all connections that arrive within ``linger_s`` share records;
  each connection waits for the records of the partitions its pings went to, acknowledged by
  Kafka (acks=all).
- :class:`CallbackSink`: hands the pings to a function (``landun demo --jt808-port``: the
  embedded engine).
- :class:`NullSink`: keeps nothing (the benchmark's baseline).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

import orjson

log = logging.getLogger(__name__)


class SinkUnavailable(RuntimeError):
    """The pings were not stored (Kafka down, too slow): do not acknowledge them."""


class PingSink(Protocol):
    """The gateway's output port."""

    async def publish(self, pings: list[dict[str, Any]]) -> None:
        """Return once ``pings`` are stored; raise :class:`SinkUnavailable` otherwise."""

    def ready(self) -> str:
        """``"ok"``, or why the sink cannot take pings now (for /readyz)."""

    async def close(self) -> None:
        """Store what is pending and release the sink."""


class NullSink:
    """Takes pings and keeps nothing (a baseline for the benchmark)."""

    def __init__(self) -> None:
        self.count = 0

    async def publish(self, pings: list[dict[str, Any]]) -> None:
        self.count += len(pings)

    def ready(self) -> str:
        return "ok"

    async def close(self) -> None:
        pass


class CallbackSink:
    """Hands pings to ``callback(pings)`` on the event loop (the embedded demo's engine)."""

    def __init__(self, callback: Callable[[list[dict[str, Any]]], None]):
        self.callback = callback

    async def publish(self, pings: list[dict[str, Any]]) -> None:
        self.callback(pings)

    def ready(self) -> str:
        return "ok"

    async def close(self) -> None:
        pass


class PendingSink:
    """A sink whose Kafka sink arrives later: the gateway starts while Kafka is unreachable.

    Issue 14: "Kafka unavailable → terminals are not acknowledged (they retransmit) and /readyz
    says so" holds at start-up too. Until :meth:`attach` gives it the connected sink, every
    publish raises :class:`SinkUnavailable` (no acknowledgement) and :meth:`ready` says why.
    """

    def __init__(self, why: str = "kafka: connecting"):
        self.inner: PingSink | None = None
        self.why = why

    def attach(self, sink: PingSink) -> None:
        """From now on the pings go to ``sink``."""
        self.inner = sink

    async def publish(self, pings: list[dict[str, Any]]) -> None:
        if self.inner is None:
            raise SinkUnavailable(self.why)
        await self.inner.publish(pings)

    def ready(self) -> str:
        return self.why if self.inner is None else self.inner.ready()

    async def close(self) -> None:
        if self.inner is not None:
            await self.inner.close()


class _Recording:
    """A producer stand-in for PingSender that remembers each record's future by partition."""

    def __init__(self, producer):
        self.producer = producer
        self.futures: dict[int | None, list] = {}

    def send(self, topic, key=None, value=None, partition=None, timestamp_ms=None, **kw):
        fut = self.producer.send(
            topic, key=key, value=value, partition=partition, timestamp_ms=timestamp_ms, **kw
        )
        self.futures.setdefault(partition, []).append(fut)
        return fut

    def flush(self, timeout=None):
        self.producer.flush(timeout)


class KafkaSink:
    """Pings into ``{ns}.pings`` through a :class:`PingSender`, acknowledged by Kafka.

    Parameters
    ----------
    producer : kafka.KafkaProducer
        Used from one worker thread only (sends may block while Kafka is unreachable, and must
        not block the event loop).
    topics, partitions
        The namespace's topics and the pings topic's partition count.
    linger_s : float
        How long pings wait for others to share their records.
    timeout_s : float
        Longest wait for Kafka's acknowledgement before the connection gives up (no ack).
    """

    def __init__(
        self,
        producer,
        topics,
        partitions: int,
        linger_s: float = 0.005,
        timeout_s: float = 10.0,
        batch_pings: int = 500,
    ):
        from stream.kafka.producer import PingSender
        from stream.kafka.topics import partition_for

        self._partition_for = partition_for
        self.partitions = partitions
        self._recording = _Recording(producer)
        self.producer = producer
        self.sender = PingSender(
            self._recording, topics, partitions, batch_pings=batch_pings, linger_s=3600.0
        )
        self.linger_s = linger_s
        self.timeout_s = timeout_s
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="gateway-kafka")
        self._queue: list[tuple[list[bytes], set[int], asyncio.Future]] = []
        self._kick: asyncio.TimerHandle | None = None
        self.failure: str | None = None  # the last round's error, cleared by a good round
        self.last_ok = 0.0

    async def publish(self, pings: list[dict[str, Any]]) -> None:
        if not pings:
            return
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        lines = [orjson.dumps(p) for p in pings]
        parts = {self._partition_for(p["vehicle"], self.partitions) for p in pings}
        self._queue.append((lines, parts, done))
        if self._kick is None:
            self._kick = loop.call_later(self.linger_s, self._round, loop)
        try:
            await asyncio.wait_for(asyncio.shield(done), self.timeout_s)
        except TimeoutError:
            done.add_done_callback(lambda f: f.cancelled() or f.exception())  # retrieved
            why = f"Kafka did not acknowledge within {self.timeout_s:g} s"
            raise SinkUnavailable(why) from None

    def ready(self) -> str:
        return "ok" if self.failure is None else f"kafka: {self.failure}"

    async def close(self) -> None:
        if self._kick is not None:
            self._kick.cancel()
            self._round(asyncio.get_running_loop())
        await asyncio.get_running_loop().run_in_executor(self._pool, self.producer.flush, 10)
        self._pool.shutdown(wait=True)

    def _round(self, loop: asyncio.AbstractEventLoop) -> None:
        """Send every queued ping as one round of records (in the Kafka thread)."""
        self._kick = None
        items, self._queue = self._queue, []
        fut = loop.run_in_executor(self._pool, self._send, [lines for lines, _, _ in items])
        fut.add_done_callback(lambda f: self._sent(f, items, loop))

    def _send(self, batches: list[list[bytes]]) -> dict[int | None, list]:
        self._recording.futures = {}
        for lines in batches:
            for line in lines:
                self.sender.send_line(line)
        self.sender.send_open()
        return self._recording.futures

    def _sent(self, f: asyncio.Future, items, loop) -> None:
        if f.exception() is not None:  # a send that could not even be queued (metadata timeout)
            self._fail(items, repr(f.exception()))
            return
        by_partition: dict[int | None, list] = f.result()
        for _lines, parts, done in items:
            waits = [k for p in parts for k in by_partition.get(p, ())]
            _Join(waits, done, loop, self)

    def _fail(self, items, why: str) -> None:
        self.failure = why
        log.warning("Kafka refused a round of pings: %s", why)
        for _lines, _parts, done in items:
            if not done.done():
                done.set_exception(SinkUnavailable(why))


class _Join:
    """Resolves ``done`` when every Kafka future of ``waits`` succeeded. Kafka calls back from
    its own thread (or at once, for a future already done): counting happens on the loop."""

    __slots__ = ("left", "done", "loop", "sink")

    def __init__(self, waits: list, done: asyncio.Future, loop, sink: KafkaSink):
        self.left, self.done, self.loop, self.sink = len(waits), done, loop, sink
        if not waits:
            loop.call_soon(self._one, None)
            self.left = 1
        for k in waits:
            k.add_callback(lambda _meta: loop.call_soon_threadsafe(self._one, None))
            k.add_errback(lambda exc: loop.call_soon_threadsafe(self._one, exc))

    def _one(self, exc) -> None:
        self.left -= 1
        if self.done.done():
            return
        if exc is not None:
            self.sink.failure = repr(exc)
            log.warning("Kafka did not take a round of pings: %r", exc)
            self.done.set_exception(SinkUnavailable(repr(exc)))
        elif self.left == 0:
            self.sink.failure = None
            self.sink.last_ok = time.monotonic()
            self.done.set_result(None)


def make_gateway_producer(bootstrap: str, max_block_ms: int = 5000):
    """An idempotent acks=all producer for the gateway: no own linger (the sink lingers), and
    sends that give up after ``max_block_ms`` when Kafka is unreachable instead of a minute."""
    from kafka import KafkaProducer

    from stream.kafka.topics import MAX_RECORD_BYTES

    return KafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=0,
        batch_size=1 << 20,
        max_request_size=MAX_RECORD_BYTES + 4096,
        max_block_ms=max_block_ms,
        request_timeout_ms=max(max_block_ms, 5000),
        client_id="landun-gateway",
    )
