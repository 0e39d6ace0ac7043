"""The transactional outbox of the reference topics, and its relay to Kafka.

A reference change is stored and queued in one transaction (:func:`enqueue`, called by
``api.db.records``); the relay publishes the queued records in id order to ``{ns}.fences`` and
``{ns}.registry``, waits until Kafka has acknowledged them (acks=all) and only then marks them
sent. A crash between the commit and the publication loses nothing (the rows stay unsent and the
next relay sends them); a crash between the publication and the marking sends them again, which
is harmless on a compacted topic (the same key gets the same value).

One relay at a time across processes: :func:`relay_once` holds a transaction-scoped advisory
lock while it publishes, so two API replicas never interleave, and never reorder, one key's
updates. A relay that fails to publish closes its producer before the lock is released, so that
records it still held cannot land after those of the next relay. Its transaction is idle while
it publishes: it raises the session's idle-in-transaction timeout (``api.db.connect``, 60 s by
default) above the longest publication (:func:`relay_idle_timeout_s`), since a session ended
mid-publication would release the lock while its records may still land.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import psycopg
from kafka.errors import KafkaError
from sqlalchemy import Connection, Engine, delete, func, insert, select, update

from api.db import KEEPALIVES
from api.db.errors import transaction
from api.db.schema import outbox
from stream.kafka.topics import Topics
from stream.live.errors import ServiceUnavailable

log = logging.getLogger(__name__)
CHANNEL = "landun_outbox"  # NOTIFY channel: a committed change wakes the relays at once
LISTEN = "LISTEN landun_outbox"
RELAY_LOCK = 0x6C616E64756E0001  # pg_try_advisory_xact_lock key of the relay ("landun" + 1)
PUBLISH_TIMEOUT_S = 30.0
RELAY_IDLE_MARGIN_S = 60.0  # the relay's idle-in-transaction timeout beyond its publication
KEEP_SENT_S = 7 * 86_400  # sent rows are kept a week, for the record, then purged
PURGE_EVERY_S = 3600.0


def enqueue(conn: Connection, topic: str, key: str, value: bytes | None) -> None:
    """Queue one record of ``topic`` (``fences`` | ``registry``) in the caller's transaction;
    ``value`` None is a tombstone."""
    conn.execute(insert(outbox).values(topic=topic, key=key, value=value))
    conn.execute(select(func.pg_notify(CHANNEL, "")))


def relay_once(engine: Engine, producer, topics: Topics, limit: int = 500) -> int:
    """Publish up to ``limit`` unsent records in id order and mark them sent.

    Parameters
    ----------
    engine : Engine
        The database holding the outbox.
    producer : kafka.KafkaProducer
        From ``stream.kafka.producer.make_producer`` (acks=all, idempotent). Closed when a
        publication fails: make a new one for the next call.
    topics : Topics
        The namespace's topic names.
    limit : int
        Most records published by one call.

    Returns
    -------
    int
        Records published; 0 when none were waiting or another relay holds the lock.

    Raises
    ------
    ServiceUnavailable
        ``postgresql`` or ``kafka`` could not be reached; nothing was marked sent.
    """
    with transaction(engine, "outbox") as conn:
        if not conn.scalar(select(func.pg_try_advisory_xact_lock(RELAY_LOCK))):
            return 0
        idle_ms = str(round(relay_idle_timeout_s(producer) * 1000))
        conn.execute(select(func.set_config("idle_in_transaction_session_timeout", idle_ms, True)))
        query = select(outbox.c.id, outbox.c.topic, outbox.c.key, outbox.c.value)
        rows = conn.execute(
            query.where(outbox.c.sent_at.is_(None)).order_by(outbox.c.id).limit(limit)
        ).all()
        if not rows:
            return 0
        _publish(producer, topics, rows)
        _mark_sent(conn, [row.id for row in rows])
    return len(rows)


def relay_idle_timeout_s(producer) -> float:
    """The idle-in-transaction timeout of a relay's transaction: above its longest publication,
    in which each of the two topics may wait ``max_block_ms`` for its metadata in ``send`` and
    then ``flush`` waits up to ``PUBLISH_TIMEOUT_S`` for the acknowledgements."""
    max_block_s = getattr(producer, "config", {}).get("max_block_ms", 60_000) / 1000
    return 2 * max_block_s + PUBLISH_TIMEOUT_S + RELAY_IDLE_MARGIN_S


def outbox_backlog(engine: Engine) -> tuple[int, float | None]:
    """The records not yet relayed: how many, and the age in seconds of the oldest (None when
    there are none), by the database's clock.

    Raises
    ------
    ServiceUnavailable
        PostgreSQL cannot be reached.
    """
    age = func.extract("epoch", func.now() - func.min(outbox.c.created_at))
    query = select(func.count(), age).where(outbox.c.sent_at.is_(None))
    with transaction(engine, "outbox") as conn:
        count, age_s = conn.execute(query).one()
    return count, None if age_s is None else max(0.0, float(age_s))


def _mark_sent(conn: Connection, ids: list[int]) -> None:
    conn.execute(update(outbox).where(outbox.c.id.in_(ids)).values(sent_at=func.now()))


def _publish(producer, topics: Topics, rows) -> None:
    names = {"fences": topics.fences, "registry": topics.registry}
    try:
        futures = [
            producer.send(names[row.topic], key=row.key.encode("utf-8"), value=row.value)
            for row in rows
        ]
        producer.flush(timeout=PUBLISH_TIMEOUT_S)
        for future in futures:
            future.get(timeout=0)  # raises the record's delivery error, if any
    except KafkaError as exc:
        producer.close(timeout=0)  # drop what it still holds: it must not land later
        raise ServiceUnavailable("kafka", f"outbox not relayed: {exc!r}") from exc


def purge_sent(engine: Engine, keep_s: float = KEEP_SENT_S) -> int:
    """Delete outbox rows sent more than ``keep_s`` seconds ago; returns how many."""
    stmt = delete(outbox).where(
        outbox.c.sent_at < func.now() - func.make_interval(0, 0, 0, 0, 0, 0, keep_s)
    )
    with transaction(engine, "outbox") as conn:
        return conn.execute(stmt).rowcount


class OutboxRelay:
    """Relays the outbox from a background thread until stopped.

    It polls every ``poll_s`` seconds and wakes at once on a NOTIFY of a committed change. An
    outage of PostgreSQL or Kafka is logged and retried after ``backoff_s``: the thread never
    dies of one, and the records wait in the outbox meanwhile.

    Parameters
    ----------
    engine : Engine
        The database holding the outbox.
    bootstrap : str
        Kafka bootstrap servers.
    topics : Topics
        The namespace's topic names.
    producer_factory : callable
        ``bootstrap -> KafkaProducer`` (default ``stream.kafka.producer.make_producer``).
    """

    def __init__(
        self,
        engine: Engine,
        bootstrap: str,
        topics: Topics,
        poll_s: float = 0.1,
        backoff_s: float = 1.0,
        limit: int = 500,
        producer_factory: Callable | None = None,
    ):
        self.engine, self.bootstrap, self.topics = engine, bootstrap, topics
        self.poll_s, self.backoff_s, self.limit = poll_s, backoff_s, limit
        self._make_producer = producer_factory or _default_producer
        self._producer = None
        self._listener: psycopg.Connection | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._purged_at = 0.0  # monotonic time of the last purge of sent rows
        self.relayed = 0  # records published since start
        self.failures = 0  # failed attempts since start

    def start(self) -> None:
        """Start the background thread (once)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="landun-outbox", daemon=True)
            self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop the thread and close the producer and the listening connection."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                self._step()
        finally:
            self._close()

    def _step(self) -> None:
        try:
            if self._producer is None:
                self._producer = self._make_producer(self.bootstrap)
            sent = relay_once(self.engine, self._producer, self.topics, self.limit)
            self.relayed += sent
            if time.monotonic() - self._purged_at > PURGE_EVERY_S:
                purge_sent(self.engine)
                self._purged_at = time.monotonic()
            if sent < self.limit:
                self._wait()
        except Exception as exc:  # an outage, or a bug: neither may silently stop the relay
            self._failed(exc)

    def _failed(self, exc: Exception) -> None:
        self.failures += 1
        if isinstance(exc, ServiceUnavailable | KafkaError):
            log.warning("outbox relay: %s; retrying in %.1f s", exc, self.backoff_s)
        else:
            log.exception("outbox relay failed; retrying in %.1f s", self.backoff_s)
        if not (isinstance(exc, ServiceUnavailable) and exc.service == "postgresql"):
            if self._producer is not None:
                self._producer.close(timeout=0)  # it may hold records that must not land later
            self._producer = None
        self._stop.wait(self.backoff_s)

    def _wait(self) -> None:
        """Sleep ``poll_s``, or less when a NOTIFY arrives."""
        listener = self._listen()
        if listener is None:
            self._stop.wait(self.poll_s)
            return
        try:
            for _ in listener.notifies(timeout=self.poll_s, stop_after=1):
                pass
        except psycopg.Error:
            self._drop_listener()

    def _listen(self) -> psycopg.Connection | None:
        if self._listener is None:
            try:
                url = self.engine.url.set(drivername="postgresql")
                dsn = url.render_as_string(hide_password=False)
                self._listener = psycopg.connect(
                    dsn, autocommit=True, connect_timeout=3, **KEEPALIVES
                )
                self._listener.execute(LISTEN)
            except psycopg.Error:
                self._drop_listener()
        return self._listener

    def _drop_listener(self) -> None:
        if self._listener is not None:
            self._listener.close()
        self._listener = None

    def _close(self) -> None:
        self._drop_listener()
        if self._producer is not None:
            self._producer.close(timeout=5)
            self._producer = None


def _default_producer(bootstrap: str):
    from stream.kafka.producer import make_producer

    return make_producer(bootstrap)
