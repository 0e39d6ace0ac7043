"""The stream worker: a faust-streaming app running the engine over the pings topic.

- One agent, ``concurrency=1`` (faust can commit past in-flight messages of concurrent agents,
  and such agents must not write tables); scale out with more partitions and processes.
- The pings topic is read as raw bytes (``value_serializer="raw"``); ``stream.kafka.codec``
  validates them, so nothing is acked and dropped by Faust's deserialiser.
- ``stream.noack_take`` micro-batches go to ``stream.kafka.runner.Runner``; exceptions never
  leave the agent (the runner dead-letters what it cannot process). The runner acks events
  only when a checkpoint covers them, so a committed offset never runs ahead of the state.
- Per-vehicle state and per-partition meta live in one Faust table (``state``), co-partitioned
  with the pings; its changelog topic is compact-only (``stream.kafka.topics``). Store:
  ``memory://`` (tests) or ``rocksdb://`` (rocksdict).
- Processing guarantee at-least-once; ``exactly_once`` is not used.
- Reference data comes from the compacted topics (``stream.kafka.reference``); the agent waits
  for it before the first batch.
- HTTP (Faust's web server): ``/livez``, ``/readyz``, ``/metrics`` (Faust's sensors and ours).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
import weakref
from collections.abc import Awaitable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import faust
from faust.sensors.prometheus import setup_prometheus_sensors
from faust.streams import _current_event  # tables write in the context of a record
from faust.types import TP

from stream.engine import Thresholds
from stream.kafka.datadir import default_datadir
from stream.kafka.gaps import GapReader
from stream.kafka.metrics import WorkerMetrics
from stream.kafka.outputs import OutRecord
from stream.kafka.probe import probe_kafka
from stream.kafka.records import received_seconds
from stream.kafka.recovery_watch import RecoveryWatch, faust_view
from stream.kafka.reference import ReferenceFollower
from stream.kafka.runner import (
    CHECKPOINT_EVERY_S,
    CONTROL_HEADER,
    FINAL,
    NUDGE,
    LiveView,
    Runner,
    Source,
)
from stream.kafka.topics import DEFAULT_PARTITIONS, Topics, ensure_topics

log = logging.getLogger(__name__)
NUDGE_IDLE_S = 5.0  # no record of a partition for this long, and its state behind the log
NUDGE_EVERY_S = 10.0
WATCH_EVERY_S = 1.0  # how often the recovery watch looks (stream.kafka.recovery_watch)


@dataclass(slots=True)
class WorkerSettings:
    """How one worker process runs."""

    bootstrap: str = "127.0.0.1:9092"
    namespace: str = "landun"
    partitions: int = DEFAULT_PARTITIONS
    store: str = "rocksdb://"
    datadir: str = field(default_factory=default_datadir)  # issue 15: not cwd/var/worker
    web_host: str = "127.0.0.1"
    web_port: int = 6066
    batch_max: int = 5000
    batch_within_s: float = 0.02
    commit_interval_s: float = 1.0
    checkpoint_interval_s: float = CHECKPOINT_EVERY_S
    session_timeout_s: float = 10.0
    standby_replicas: int = 1
    redis_url: str | None = None
    redis_prefix: str = "landun"
    thresholds: Thresholds | None = None


class FaustTables:
    """The runner's table port on a Faust table (writes go to the changelog of the record's
    partition, which Faust takes from the current event: set here, since a noack_take batch
    has no current event)."""

    def __init__(self, table: Any):
        self._table = table

    def read(self, event: Any, key: bytes) -> bytes | None:
        token = _current_event.set(weakref.ref(event))
        try:
            return self._table.get(key)
        finally:
            _current_event.reset(token)

    def write(self, event: Any, items: dict[bytes, bytes]) -> list[Awaitable]:
        """Send the items to the changelog and set them in the local store once Kafka has each
        one; the futures resolve then. ``table[key] = value`` would queue the changelog record
        in Faust's producer buffer with no way to wait for it (and Faust's commit gives up
        flushing that buffer after 0.1 s), and would let a local rocksdb store run ahead of
        the changelog that other workers restore from."""
        table = self._table
        partition = event.message.partition
        sent = []
        for key, value in items.items():
            future = table.send_changelog(partition, key, value)
            future.add_done_callback(functools.partial(self._stored, event, key, value))
            sent.append(future)
        return sent

    def _stored(self, event: Any, key: bytes, value: bytes, future: Any) -> None:
        if future.cancelled() or future.exception() is not None:
            return  # the runner sees the failure and reloads from the durable checkpoint
        token = _current_event.set(weakref.ref(event))  # the store picks the partition by it
        try:
            self._table.data[key] = value  # what Table.__setitem__ does, minus the changelog
        finally:
            _current_event.reset(token)


def build_app(settings: WorkerSettings, live: LiveView | None = None) -> tuple[faust.App, Runner]:
    """The Faust app of a worker and its runner (topics are created if missing)."""
    topics = Topics(settings.namespace)
    ensure_topics(settings.bootstrap, topics, settings.partitions)
    # Faust makes only the last level: a fresh machine (or a clone without var/) has no parent.
    Path(settings.datadir).mkdir(parents=True, exist_ok=True)
    app = faust.App(
        topics.app_id,
        broker=f"kafka://{settings.bootstrap}",
        store=settings.store,
        datadir=settings.datadir,
        processing_guarantee="at_least_once",
        topic_partitions=settings.partitions,
        topic_replication_factor=1,
        table_standby_replicas=settings.standby_replicas,
        broker_commit_interval=settings.commit_interval_s,
        broker_session_timeout=settings.session_timeout_s,
        broker_heartbeat_interval=min(3.0, settings.session_timeout_s / 3),
        consumer_auto_offset_reset="earliest",
        # Events stay unacked until their checkpoint (up to --checkpoint-every s): a rebalance
        # must not wait for them; it commits what is acked, which the checkpoint covers.
        stream_wait_empty=False,
        # Faust hands records to a stream one by one (about 2k records/s measured here with the
        # defaults, 4k with these); bigger polls and buffers help, batch records help most.
        broker_max_poll_records=settings.batch_max,
        stream_buffer_maxsize=max(4096, 4 * settings.batch_max),
        key_serializer="raw",
        value_serializer="raw",
        producer_acks=-1,
        # A batch's outputs and checkpoint go out as a few produce requests, not one per
        # record (Faust's defaults: no linger, 16 KB batches).
        producer_linger=0.005,
        producer_max_batch_size=512 * 1024,
        web_enabled=True,
        web_bind=settings.web_host,
        web_port=settings.web_port,
        web_host=settings.web_host,
        web_transport="tcp://",
        # Faust lets environment variables named like its settings (STREAM_RECOVERY_DELAY,
        # BROKER_SESSION_TIMEOUT, BROKER_URL, WEB_PORT...) override the values above; with a
        # stray STREAM_RECOVERY_DELAY=35 a takeover took 50 s. Only LANDUN_FAUST_<SETTING> may.
        env_prefix="LANDUN_FAUST_",
    )
    metrics = WorkerMetrics()
    setup_prometheus_sensors(app, registry=metrics.registry, name_prefix="landun_faust")
    state = app.Table(
        "state", default=None, partitions=settings.partitions, key_type=bytes, value_type=bytes
    )

    async def send(record: OutRecord):
        return await app.producer.send(
            record.topic, record.key, record.value, None, None, record.headers or None
        )

    runner = Runner(
        topics, settings.partitions, FaustTables(state), send, metrics, live,
        GapReader(settings.bootstrap, topics.pings),
        checkpoint_every_s=settings.checkpoint_interval_s,
    )  # fmt: skip
    follower = ReferenceFollower(
        settings.bootstrap,
        topics,
        runner.set_context,
        settings.thresholds,
        lambda topic, ok: metrics.reference.labels(topic, "applied" if ok else "refused").inc(),
    )
    pings = app.topic(
        topics.pings, key_type=bytes, value_type=bytes, partitions=settings.partitions
    )

    pings_name = topics.pings

    def owned(p: int) -> bool:
        return TP(topics.pings, p) in app.consumer.assignment()

    async def agent(stream):
        # Events are acked by the runner once a checkpoint covers them (noack_take), so Faust
        # never commits past the checkpoint and a new owner resumes where the state ends.
        runner.ack = stream.ack
        await follower.ready.wait()
        async for events in stream.noack_take(settings.batch_max, settings.batch_within_s):
            try:
                await runner.handle([_source(e) for e in events], owned)
            except Exception:  # noqa: BLE001 - never let an exception ack records silently
                metrics.errors.inc()
                log.exception("batch failed; its partitions are reloaded from the checkpoint")
                runner.reset({e.message.partition for e in events})
            _lag(app, topics, runner, metrics)

    app.agent(pings, name=f"{topics.app_id}-pings", concurrency=1)(agent)

    async def follow() -> None:
        await follower.run()

    app.task(follow)

    @app.timer(max(0.1, settings.checkpoint_interval_s / 2))
    async def checkpoint() -> None:
        # Partitions whose input paused are checkpointed too (batches only save when due).
        try:
            await runner.flush(owned)
        except Exception:  # noqa: BLE001 - a timer task must not die
            metrics.errors.inc()
            log.exception("checkpoint flush failed; partitions reload from their checkpoints")
            runner.reset(list(runner.pending))
        await nudge_idle()

    watch = RecoveryWatch()
    watching: list[asyncio.Task] = []

    async def watch_recovery() -> None:
        """Runs from the first assignment on: Faust starts app tasks and timers only once the
        first recovery has completed, and that recovery may be the one that stalls."""
        while True:
            await asyncio.sleep(WATCH_EVERY_S)
            try:
                before = watch.total_kicks
                await watch.check(faust_view(app.tables.recovery), app.consumer, time.monotonic())
                metrics.recovery_seeks.inc(watch.total_kicks - before)
            except Exception:  # noqa: BLE001 - must not die; the assignment may be changing
                log.exception("recovery watch failed; trying again at the next tick")

    nudged: dict[int, float] = {}

    async def nudge_idle() -> None:
        """Faust can resume a partition past its checkpoint (seen after kill -9); the runner
        reads the missing records when the next record shows the gap. If the input has
        stopped, none comes: a small control record is sent to such a partition instead."""
        if not follower.ready.is_set():
            return  # the agent is not consuming yet
        now = time.monotonic()
        for tp in app.consumer.assignment():
            if (
                tp.topic != topics.pings
                or now - nudged.get(tp.partition, -NUDGE_EVERY_S) < NUDGE_EVERY_S
            ):
                continue
            try:
                log_end = app.consumer.highwater(tp)
            except Exception:  # noqa: BLE001 - assignment changing
                continue
            if runner.behind(tp.partition, log_end, NUDGE_IDLE_S):
                nudged[tp.partition] = now
                log.warning(
                    "partition %d: state behind the log and no input: nudging", tp.partition
                )
                await app.producer.send(
                    topics.pings, None, b"", tp.partition, None, [(CONTROL_HEADER, NUDGE)]
                )

    @app.on_partitions_assigned.connect
    def _assigned(sender, assigned, **kwargs) -> None:
        # Idle time counts from the assignment: records are on their way (no nudge yet).
        runner.assigned(tp.partition for tp in assigned if tp.topic == topics.pings)
        if not watching:
            watching.append(asyncio.ensure_future(watch_recovery()))

    @app.on_partitions_revoked.connect
    def _revoked(sender, revoked, **kwargs) -> None:
        runner.forget(tp.partition for tp in revoked if tp.topic == topics.pings)

    @app.page("/livez")
    async def livez(web, request):
        return web.json({"ok": True})

    @app.page("/readyz")
    async def readyz(web, request):
        """503 until reference data is loaded, while rebalancing, or while Kafka or Redis (when
        the worker writes the live view) does not answer; ``checks`` says which ("ok" or why
        not). The probes run in threads: a slow dependency never blocks the event loop."""
        owned = sorted(tp.partition for tp in app.consumer.assignment() if tp.topic == pings_name)
        loaded = follower.ready.is_set() and runner.ctx is not None
        probes = [asyncio.to_thread(probe_kafka, settings.bootstrap)]
        if settings.redis_url:
            probes.append(asyncio.to_thread(probe_redis, settings.redis_url))
        results = await asyncio.gather(*probes)
        checks = {
            "reference": "ok" if loaded else "loading",
            "rebalancing": "rebalancing" if app.rebalancing else "ok",
            "recovery": "stalled: restart this worker" if watch.gave_up else "ok",
            "kafka": results[0],
        }
        if settings.redis_url:
            checks["redis"] = results[1]
        ready = all(v == "ok" for v in checks.values())
        body = {"ready": ready, "reference": loaded, "partitions": owned, "checks": checks}
        return web.json(body, status=200 if ready else 503)

    return app, runner


def probe_redis(url: str, timeout_s: float = 1.0) -> str:
    """``"ok"`` when Redis answers a PING within ``timeout_s``, else why not. A client of its own,
    closed after: the live view's connection may be the one that is stuck.

    Examples
    --------
    >>> probe_redis("redis://127.0.0.1:1/0").startswith("unreachable")
    True
    """
    import redis

    try:
        client = redis.Redis.from_url(
            url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s
        )
        try:
            client.ping()
        finally:
            client.close()
        return "ok"
    except (redis.RedisError, OSError, ValueError) as exc:
        return f"unreachable: {type(exc).__name__}"


def _source(event) -> Source:
    message = event.message
    headers = dict(message.headers or ())
    control = headers.get(CONTROL_HEADER)
    return Source(
        message.partition,
        message.offset,
        message.value,
        control == FINAL,
        event,
        received_seconds(headers, message.timestamp),
        nudge=control == NUDGE,
    )


def _lag(app: faust.App, topics: Topics, runner: Runner, metrics: WorkerMetrics) -> None:
    for p, run in list(runner.runs.items()):
        try:
            high = app.consumer.highwater(TP(topics.pings, p))
        except Exception:  # noqa: BLE001 - e.g. a partition revoked a moment ago
            continue
        if high is not None and run.next_offset >= 0:
            metrics.lag.labels(str(p)).set(max(0, high - run.next_offset))


def run_worker(settings: WorkerSettings, loglevel: str = "warning") -> int:
    """Run a worker until it is stopped (SIGTERM/SIGINT)."""
    live = None
    if settings.redis_url:
        from stream.live.view import RedisLiveView

        live = RedisLiveView.from_url(settings.redis_url, settings.redis_prefix)
    app, _ = build_app(settings, live)
    worker = faust.Worker(app, loglevel=loglevel, quiet=True)
    # Faust's terminal spinner sets the root logger to DEBUG so that every record spins it:
    # aiokafka then formats a debug record per produced message (7 % of the worker's CPU).
    worker.spinner = None
    asyncio.set_event_loop(worker.loop)
    worker.execute_from_commandline()
    return 0
