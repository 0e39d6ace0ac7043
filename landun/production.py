"""The production composition: the API and the alert sink over the real adapters.

- everything durable (accounts, reference data, alerts and their versions, cases and their
  audit, trips) in PostgreSQL (``api.db``), its schema brought up to date at start-up;
- the live view (latest positions, GEO queries, tracks) and the bus (pub/sub hints) in Redis,
  on the same keys the workers write (``stream.live.redis``);
- reference edits leave PostgreSQL through the transactional outbox, relayed to the compacted
  topics that every worker follows (``api.db.outbox``).

The embedded demo and the unit tests use the in-memory twins (``api.memory``) instead.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from api.ports import Ports
from api.settings import Connections

log = logging.getLogger(__name__)
Probes = Callable[[], dict[str, str]]


class ConfigurationError(ValueError):
    """A production process lacks a setting. Operator action: set the named LANDUN_* variable
    (docs/services.md lists them) or run the demo (`landun demo`, `landun api --demo`)."""


@dataclass(slots=True)
class Backends:
    """The open connections of one process, their probes and how to close them."""

    engine: object
    redis: object
    redis_url: str
    closers: list[Callable[[], None]] = field(default_factory=list)

    def probes(self) -> dict[str, str]:
        """``{service: "ok" | reason}`` for /readyz, each with a short timeout."""
        return {"postgresql": _probe_pg(self.engine), "redis": _probe_redis(self.redis_url)}

    def close(self) -> None:
        for closer in reversed(self.closers):
            try:
                closer()
            except Exception:  # closing is best effort at shutdown
                log.exception("closing a backend failed")


def open_backends(conn: Connections, migrate: bool = True) -> Backends:
    """Connect to PostgreSQL and Redis; bring the schema up to date when ``migrate``.

    Raises
    ------
    ConfigurationError
        LANDUN_DATABASE_URL or LANDUN_REDIS_URL is missing.
    """
    from api.db import connect
    from api.db.migrate import is_current, upgrade
    from stream.live.redis import client

    if conn.database_url is None:
        raise ConfigurationError("LANDUN_DATABASE_URL is not set (the PostgreSQL system of record)")
    if not conn.redis_url:
        raise ConfigurationError("LANDUN_REDIS_URL is not set (the live view)")
    url = conn.database_url.get_secret_value()
    if migrate and not is_current(url):
        log.warning("database schema behind the code: upgrading")
        upgrade(url)
    engine = connect(url)
    r = client(conn.redis_url)
    return Backends(engine, r, conn.redis_url, [engine.dispose, r.close])


def production_ports(
    conn: Connections, backends: Backends, track_points: int = 720, clock=time.time
) -> Ports:
    """The API's ports over PostgreSQL and Redis."""
    from api.db.alerts import PgAlertStore
    from api.db.records import PgRecordStore
    from api.db.users import PgUserStore
    from stream.live.redis import RedisBus, RedisLiveStore

    engine, r = backends.engine, backends.redis
    return Ports(
        live=RedisLiveStore(r, conn.redis_prefix, track_points),
        alerts=PgAlertStore(engine, clock=clock),
        trips=PgRecordStore(engine, "trips"),
        fences=PgRecordStore(engine, "fences"),
        vehicles=PgRecordStore(engine, "vehicles"),
        permits=PgRecordStore(engine, "permits"),
        contracts=PgRecordStore(engine, "contracts"),
        bus=RedisBus(r, backends.redis_url, conn.redis_prefix),
        users=PgUserStore(engine),
    )


def start_relay(conn: Connections, backends: Backends):
    """The outbox relay of this process (a background thread), stopped by ``backends.close``."""
    from api.db.outbox import OutboxRelay
    from stream.kafka.topics import Topics

    relay = OutboxRelay(backends.engine, conn.kafka_bootstrap, Topics(conn.namespace))
    relay.start()
    backends.closers.append(relay.stop)
    return relay


class OutboxCollector:
    """Prometheus collector of the outbox, read at scrape time: records waiting, the age of the
    oldest, and what this process's relay published or failed. A growing backlog means
    reference edits are not reaching the workers (Kafka down, or the relay stuck)."""

    def __init__(self, engine, relay):
        self.engine, self.relay = engine, relay

    def collect(self):
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        from api.db.outbox import outbox_backlog

        try:
            unsent, age = outbox_backlog(self.engine)
        except Exception:  # PostgreSQL down: /readyz says so; the gauges say "unknown"
            unsent, age = float("nan"), float("nan")
        yield GaugeMetricFamily(
            "landun_outbox_unsent", "Reference changes committed but not yet on Kafka", unsent
        )
        yield GaugeMetricFamily(
            "landun_outbox_oldest_unsent_seconds",
            "Age of the oldest unsent reference change (0 when none waits)",
            0.0 if age is None else age,
        )
        yield CounterMetricFamily(
            "landun_outbox_relayed", "Reference changes this process published", self.relay.relayed
        )
        yield CounterMetricFamily(
            "landun_outbox_relay_failures", "Failed relay attempts of this process",
            self.relay.failures,
        )  # fmt: skip


def sink_from_settings(conn: Connections, group: str | None = None):
    """The alert sink of ``landun alert-sink``: ``(sink, probes, close)``."""
    from kafka import KafkaConsumer

    from api.feed import Feed
    from api.sink import AlertSink
    from stream.kafka.probe import probe_kafka
    from stream.kafka.producer import make_producer
    from stream.kafka.topics import DEFAULT_PARTITIONS, Topics, ensure_topics

    backends = open_backends(conn)
    topics = Topics(conn.namespace)
    consumer = KafkaConsumer(
        topics.alerts,
        topics.events,
        bootstrap_servers=conn.kafka_bootstrap,
        group_id=group or f"{conn.namespace}-alert-sink",
        enable_auto_commit=False,
        auto_offset_reset="earliest",  # a new group loses nothing produced before it ran
        client_id="landun-alert-sink",
    )
    # Created if missing, with the pings topic's partition count when it exists (it is the
    # workers' scale-out unit, chosen when the deployment was set up).
    existing = consumer.partitions_for_topic(topics.pings)
    ensure_topics(conn.kafka_bootstrap, topics, len(existing) if existing else DEFAULT_PARTITIONS)
    producer = make_producer(conn.kafka_bootstrap)
    backends.closers += [producer.close, consumer.close]
    feed = Feed(production_ports(conn, backends))

    def probes() -> dict[str, str]:
        return {**backends.probes(), "kafka": probe_kafka(conn.kafka_bootstrap)}

    return AlertSink(consumer, producer, feed, topics), probes, backends.close


def _probe_pg(engine) -> str:
    from sqlalchemy import text

    try:
        with engine.connect() as c:
            c.execute(text("SELECT 1"))
        return "ok"
    except Exception as exc:  # any failure is "not ready"; the text says which
        return f"unreachable: {type(exc).__name__}"


def _probe_redis(url: str) -> str:
    import redis

    try:
        probe = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
        try:
            probe.ping()
        finally:
            probe.close()
        return "ok"
    except redis.RedisError as exc:
        return f"unreachable: {type(exc).__name__}"


def load_reference(conn: Connections, fences: dict, registry: dict, timeout_s: float = 60.0) -> int:
    """Write a fence collection and a registry into PostgreSQL — every record with its outbox
    entry, in one transaction — and relay the outbox until it is empty, so that the reference
    topics hold them when this returns (`landun ingest`, `landun sim-feed`). Returns the count.

    Raises
    ------
    FenceError, RegistryError
        Invalid reference data; nothing is written.
    ServiceUnavailable
        PostgreSQL or Kafka unreachable (a relay elsewhere sends what was committed).
    """
    from api.db import connect
    from api.db.errors import transaction
    from api.db.migrate import is_current, upgrade
    from api.db.outbox import outbox_backlog, relay_once
    from api.db.records import write_reference
    from api.settings import ReferenceLimits
    from stream.kafka.producer import make_producer
    from stream.kafka.reference import SECTIONS
    from stream.kafka.reference import reference_records as validated
    from stream.kafka.topics import Topics

    records = list(validated(fences, registry))  # raises before anything is written
    rows = [("fences", str(f["id"]), f) for f in fences["features"]]
    rows += [(s, str(item["id"]), item) for s in SECTIONS for item in registry.get(s, [])]
    check_reference(rows, ReferenceLimits())
    url = conn.database_url.get_secret_value()
    if not is_current(url):
        upgrade(url)
    engine = connect(url)
    try:
        with transaction(engine) as db:
            for kind, ident, body in rows:
                write_reference(db, kind, ident, body)
        producer = make_producer(conn.kafka_bootstrap)
        deadline = time.monotonic() + timeout_s
        try:
            while True:
                if relay_once(engine, producer, Topics(conn.namespace)) == 0:
                    if outbox_backlog(engine)[0] == 0:
                        break
                    if time.monotonic() > deadline:  # another relay holds the lock this long
                        raise TimeoutError("the outbox was not relayed within the timeout")
                    time.sleep(0.05)
        finally:
            producer.close()
    finally:
        engine.dispose()
    return len(records)


class ReferenceRejected(ValueError):
    """Reference data the API would refuse (an id outside the pattern of docs/formats.md, a
    fence over the size limits). Operator action: fix the named record in the file."""


def check_reference(rows: list[tuple[str, str, dict]], limits) -> None:
    """Apply the API's rules for ids and fence sizes to ``(kind, id, record)`` rows, so a file
    cannot bring in what the API refuses (an id with ``/`` could never be fetched or deleted).

    Raises
    ------
    ReferenceRejected
        Naming every record that breaks a rule (the first 20).
    """
    from api.fence_limits import check_size
    from api.ids import ID_PATTERN, is_id

    problems = []
    for kind, ident, record in rows:
        if not is_id(ident):
            problems.append(f"{kind}/{ident!r}: id does not match {ID_PATTERN}")
        elif kind == "fences":
            try:
                check_size(record, limits.fence_max_vertices, limits.fence_max_extent_km)
            except ValueError as exc:
                problems.append(f"fences/{ident}: {exc}")
    if problems:
        more = f" (and {len(problems) - 20} more)" if len(problems) > 20 else ""
        raise ReferenceRejected("; ".join(problems[:20]) + more)
