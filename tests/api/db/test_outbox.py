"""The outbox relay against the real Kafka: what is committed reaches the compacted topics in
order, exactly the records ``reference_records`` would publish, and nothing is lost to a crash
on either side of the publication."""

from __future__ import annotations

import subprocess
import sys
import time

import orjson
import pytest
from kafka.errors import KafkaConnectionError, KafkaTimeoutError
from sqlalchemy import func, select, text, update

from api.db import connect
from api.db.outbox import RELAY_LOCK, OutboxRelay, outbox_backlog, relay_once
from api.db.records import PgRecordStore
from api.db.schema import outbox
from stream.kafka.producer import make_producer
from stream.kafka.reference import ReferenceBook
from stream.kafka.topics import Topics
from stream.live.errors import ServiceUnavailable
from tests.api.conftest import LX, fence_feature
from tests.api.db.test_records_pg import PERMIT
from tests.stream.kafka.conftest import read_topic, wait_for

FENCE_V1 = fence_feature("site-lx", "site", LX)
FENCE_V2 = fence_feature("site-lx", "site", LX, lng=120.31)


@pytest.fixture
def producer(kafka_bootstrap):
    p = make_producer(kafka_bootstrap)
    yield p
    p.close(timeout=5)


def edit(engine) -> None:
    """A fence written twice and a permit written then revoked."""
    fences, permits = PgRecordStore(engine, "fences"), PgRecordStore(engine, "permits")
    fences.put(FENCE_V1)
    permits.put(PERMIT)
    fences.put(FENCE_V2)
    permits.delete("P-1")


def published(bootstrap, topics) -> dict[str, list[tuple]]:
    return {
        name: [(r.key, r.value) for r in read_topic(bootstrap, topic)]
        for name, topic in (("fences", topics.fences), ("registry", topics.registry))
    }


def unsent(engine) -> int:
    with engine.connect() as conn:
        query = select(func.count()).select_from(outbox).where(outbox.c.sent_at.is_(None))
        return conn.scalar(query)


EXPECTED = {
    "fences": [
        (b"site-lx", orjson.dumps(FENCE_V1)),
        (b"site-lx", orjson.dumps(FENCE_V2)),
    ],
    "registry": [(b"permits/P-1", orjson.dumps(PERMIT)), (b"permits/P-1", None)],
}


def test_relay_publishes_in_order_then_marks_sent(engine, producer, topics, kafka_bootstrap):
    edit(engine)
    assert relay_once(engine, producer, topics) == 4
    assert relay_once(engine, producer, topics) == 0
    assert unsent(engine) == 0
    records = published(kafka_bootstrap, topics)
    assert records == EXPECTED
    book = ReferenceBook()
    assert all(book.apply_fence(k, v) for k, v in records["fences"])
    assert all(book.apply_entry(k, v) for k, v in records["registry"])
    assert list(book.fences) == ["site-lx"] and book.entries["permits"] == {}


def test_committed_but_never_relayed_records_are_sent_by_a_new_relay(
    engine, topics, kafka_bootstrap
):
    edit(engine)  # the process that wrote them died before relaying
    assert unsent(engine) == 4
    worker = OutboxRelay(engine, kafka_bootstrap, topics)
    worker.start()
    try:
        wait_for(lambda: unsent(engine) == 0, 30, "the relay to send the outbox", every=0.1)
    finally:
        worker.stop()
    assert worker.relayed == 4
    assert published(kafka_bootstrap, topics) == EXPECTED


# A relay process that stops between the publication and the marking, until it is killed.
KILLED_RELAY = """
import sys, time
from api.db import connect, outbox
from stream.kafka.producer import make_producer
from stream.kafka.topics import Topics

def published(conn, ids):
    print("published", flush=True)
    time.sleep(600)

outbox._mark_sent = published
outbox.relay_once(connect(sys.argv[1]), make_producer(sys.argv[2]), Topics(sys.argv[3]))
"""


def test_a_relay_killed_after_publishing_sends_again(
    database_url, engine, producer, topics, kafka_bootstrap
):
    edit(engine)
    command = [sys.executable, "-c", KILLED_RELAY, database_url, kafka_bootstrap, topics.namespace]
    child = subprocess.Popen(command, stdout=subprocess.PIPE)
    try:
        assert child.stdout.readline() == b"published\n"
    finally:
        child.kill()  # SIGKILL: its transaction dies with its connection
        child.wait(30)
    assert unsent(engine) == 4
    sent: list[int] = []

    def relay_again() -> bool:  # 0 until the server has ended the killed relay's session
        sent.append(relay_once(engine, producer, topics))
        return sum(sent) == 4

    wait_for(relay_again, 30, "a new relay to take over", every=0.1)
    records = published(kafka_bootstrap, topics)
    # Each record twice, in order: the topic's last value per key is still the store's.
    assert records == {name: rows + rows for name, rows in EXPECTED.items()}


def test_one_relay_at_a_time(engine, producer, topics, kafka_bootstrap):
    edit(engine)
    with engine.connect() as other, other.begin():
        other.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": RELAY_LOCK})
        assert relay_once(engine, producer, topics) == 0
        assert unsent(engine) == 4
    assert relay_once(engine, producer, topics) == 4
    assert published(kafka_bootstrap, topics) == EXPECTED


class FailingProducer:
    """A producer whose broker never acknowledges."""

    def __init__(self):
        self.sent, self.closed = 0, False

    def send(self, topic, key, value):
        self.sent += 1

    def flush(self, timeout=None):
        raise KafkaTimeoutError("no acknowledgement")

    def close(self, timeout=None):
        self.closed = True


def test_a_failed_publication_marks_nothing_and_drops_the_producer(engine, topics):
    edit(engine)
    producer = FailingProducer()
    with pytest.raises(ServiceUnavailable) as caught:
        relay_once(engine, producer, topics)
    assert caught.value.service == "kafka"
    assert (producer.sent, producer.closed, unsent(engine)) == (4, True, 4)


def test_the_relay_thread_outlives_a_kafka_outage(engine, topics, kafka_bootstrap):
    attempts = []

    def factory(bootstrap):
        attempts.append(bootstrap)
        if len(attempts) == 1:
            raise RuntimeError("a bug must not stop the relay either")
        if len(attempts) == 2:
            raise KafkaConnectionError()
        return make_producer(bootstrap)

    edit(engine)
    worker = OutboxRelay(engine, kafka_bootstrap, topics, backoff_s=0.05, producer_factory=factory)
    worker.start()
    try:
        wait_for(lambda: unsent(engine) == 0, 30, "the relay to recover", every=0.1)
    finally:
        worker.stop()
    assert worker.failures == 2
    assert published(kafka_bootstrap, topics) == EXPECTED


class SlowProducer(FailingProducer):
    """A producer whose broker acknowledges after ``delay_s``."""

    def __init__(self, delay_s: float):
        super().__init__()
        self.delay_s = delay_s

    def send(self, topic, key, value):
        self.sent += 1
        return self

    def flush(self, timeout=None):
        time.sleep(self.delay_s)

    def get(self, timeout=None):  # the future of each record: delivered
        return None


def test_a_publication_longer_than_the_sessions_idle_timeout_is_still_marked_sent(
    database_url, engine
):
    """The relay's transaction is idle while it publishes: the session's idle-in-transaction
    timeout must not end it (the lock would be released while records may still land)."""
    quick = connect(database_url, idle_in_transaction_timeout_s=0.2)
    try:
        edit(quick)
        producer = SlowProducer(delay_s=2)
        assert relay_once(quick, producer, Topics("unused")) == 4
        assert (producer.sent, producer.closed, unsent(quick)) == (4, False, 0)
    finally:
        quick.dispose()


def test_outbox_backlog_counts_the_unsent_and_ages_the_oldest(engine):
    assert outbox_backlog(engine) == (0, None)
    edit(engine)
    with engine.begin() as conn:  # the first record has waited an hour
        first = select(func.min(outbox.c.id)).scalar_subquery()
        conn.execute(
            update(outbox)
            .where(outbox.c.id == first)
            .values(created_at=func.now() - text("interval '1 hour'"))
        )
    count, age_s = outbox_backlog(engine)
    assert count == 4 and 3600 <= age_s < 3600 + 600
    with engine.begin() as conn:  # the three oldest are sent: the age is the fourth's
        oldest = select(outbox.c.id).order_by(outbox.c.id).limit(3).scalar_subquery()
        conn.execute(update(outbox).where(outbox.c.id.in_(oldest)).values(sent_at=func.now()))
    count, age_s = outbox_backlog(engine)
    assert count == 1 and 0 <= age_s < 600
    with engine.begin() as conn:
        conn.execute(update(outbox).values(sent_at=func.now()))
    assert outbox_backlog(engine) == (0, None)
