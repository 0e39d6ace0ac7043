"""The alert sink's per-batch policy (api/sink.py) with a scripted consumer and the in-memory
stores: written records are committed, an outage rewinds to the first unwritten record of every
partition, bad records are dead-lettered and passed. The real Kafka/PostgreSQL path is tested end
to end in tests/landun/test_production.py."""

from __future__ import annotations

from collections import namedtuple

import orjson
import pytest

from api.feed import Feed
from api.memory import memory_ports
from api.sink import AlertSink
from stream.kafka.topics import Topics
from stream.live.errors import ServiceUnavailable
from tests.api.conftest import alert

TP = namedtuple("TP", "topic partition")
Rec = namedtuple("Rec", "topic partition offset key value")
TOPICS = Topics("t")


class ScriptedConsumer:
    """A consumer over fixed records: poll hands out everything from the position on."""

    def __init__(self, records: list[Rec]):
        self.records: dict[TP, list[Rec]] = {}
        for r in records:
            self.records.setdefault(TP(r.topic, r.partition), []).append(r)
        self.position = {tp: 0 for tp in self.records}
        self.commits: list[dict] = []

    def poll(self, timeout_ms: int, max_records: int) -> dict:
        batch = {}
        for tp, records in self.records.items():
            fresh = [r for r in records if r.offset >= self.position[tp]]
            if fresh:
                batch[tp] = fresh
                self.position[tp] = fresh[-1].offset + 1
        return batch

    def seek(self, tp, offset: int) -> None:
        self.position[tp] = offset

    def commit(self) -> None:
        self.commits.append(dict(self.position))


class Delivery:
    """A send's result: ``get`` raises what the broker answered, as kafka-python's future."""

    def __init__(self, error: Exception | None):
        self.error = error

    def get(self, timeout=None):
        if self.error:
            raise self.error


class Producer:
    def __init__(self, error: Exception | None = None):
        self.sent, self.flushed, self.error = [], 0, error

    def send(self, topic, key=None, value=None, headers=None):
        self.sent.append((topic, value, dict(headers)))
        return Delivery(self.error)

    def flush(self, timeout=None):  # like kafka-python: never raises for a failed record
        self.flushed = len(self.sent)


class FlakyAlerts:
    """The memory alert store, unreachable for the ``fail_on``-th put."""

    def __init__(self, store, fail_on: int):
        self.store, self.calls, self.fail_on = store, 0, fail_on

    def put(self, alert):
        self.calls += 1
        if self.calls == self.fail_on:
            raise ServiceUnavailable("postgresql", "connection refused")
        return self.store.put(alert)

    def __getattr__(self, name):
        return getattr(self.store, name)


def records(*alerts_by_partition: list[dict]) -> list[Rec]:
    out = []
    for partition, alerts in enumerate(alerts_by_partition):
        for offset, a in enumerate(alerts):
            out.append(Rec(TOPICS.alerts, partition, offset, b"v", orjson.dumps(a)))
    return out


def sink_over(recs: list[Rec], fail_on: int | None = None, producer=None):
    ports = memory_ports()
    if fail_on:
        ports.alerts = FlakyAlerts(ports.alerts, fail_on)
    consumer, producer = ScriptedConsumer(recs), producer or Producer()
    sink = AlertSink(consumer, producer, Feed(ports), TOPICS, sleep=lambda s: None)
    return sink, consumer, producer, ports


def test_a_batch_is_written_then_committed():
    recs = records(
        [alert("a1", "V1", "梁溪"), alert("a2", "V1", "梁溪")], [alert("b1", "V2", "锡山")]
    )
    sink, consumer, _, ports = sink_over(recs)
    assert sink.step() == 3
    assert consumer.commits == [{TP(TOPICS.alerts, 0): 2, TP(TOPICS.alerts, 1): 1}]
    assert {a["id"] for a in ports.alerts.query(_all())} == {"a1", "a2", "b1"}
    assert ports.alerts.head() == 3


def test_an_outage_rewinds_every_partition_to_its_first_unwritten_record():
    p0 = [alert("a1", "V1", "梁溪"), alert("a2", "V1", "梁溪"), alert("a3", "V1", "梁溪")]
    p1 = [alert("b1", "V2", "锡山")]
    sink, consumer, _, ports = sink_over(records(p0, p1), fail_on=2)
    assert sink.step() == 1  # a1 written, a2 failed
    # Committed: a1 only; partition 1, polled but not reached, is not passed either.
    assert consumer.commits == [{TP(TOPICS.alerts, 0): 1, TP(TOPICS.alerts, 1): 0}]
    while sink.step():
        pass
    assert consumer.commits[-1] == {TP(TOPICS.alerts, 0): 3, TP(TOPICS.alerts, 1): 1}
    stored = ports.alerts.query(_all())
    assert sorted(a["id"] for a in stored) == ["a1", "a2", "a3", "b1"]
    assert ports.alerts.head() == 4  # one event per alert: nothing written twice


def test_bad_records_are_dead_lettered_with_their_reason_and_passed():
    bad = [
        Rec(TOPICS.alerts, 0, 0, b"v", b"{not json"),
        Rec(TOPICS.alerts, 0, 1, b"v", b"[1, 2]"),
        Rec(TOPICS.alerts, 0, 2, b"v", orjson.dumps({"id": "x", "type": "overspeed"})),
        Rec(TOPICS.alerts, 0, 3, b"v", orjson.dumps(alert("ok", "V1", "梁溪"))),
    ]
    sink, consumer, producer, ports = sink_over(bad)
    assert sink.step() == 4
    reasons = [h["landun-reason"] for _, _, h in producer.sent]
    assert reasons == [b"bad_json", b"not_an_object", b"bad_field"]
    assert [h["landun-source"] for _, _, h in producer.sent][0] == f"{TOPICS.alerts}:0:0".encode()
    assert {t for t, _, _ in producer.sent} == {TOPICS.alerts_rejected}
    assert producer.flushed == 3  # durable before the commit passes them
    assert consumer.commits == [{TP(TOPICS.alerts, 0): 4}]
    assert [a["id"] for a in ports.alerts.query(_all())] == ["ok"]


def test_a_redelivered_version_changes_nothing_and_never_reopens():
    opened = alert("a1", "V1", "梁溪")
    ended = {**opened, "ended_ts": opened["ts"] + 60_000}
    recs = records([opened, ended, opened, ended])
    sink, _, _, ports = sink_over(recs)
    sink.step()
    assert ports.alerts.head() == 2
    assert ports.alerts.get("a1")["ended_ts"] is not None


@pytest.mark.parametrize("event", ["stop", "fence"])
def test_trips_are_stored_and_other_events_skipped(event):
    trip = {"event": "trip", "id": "T-1", "vehicle": "V1", "status": "open"}
    other = {"event": event, "vehicle": "V1"}
    recs = [Rec(TOPICS.events, 0, 0, b"V1", orjson.dumps(trip)),
            Rec(TOPICS.events, 0, 1, b"V1", orjson.dumps(other))]  # fmt: skip
    sink, consumer, producer, ports = sink_over(recs)
    assert sink.step() == 2
    assert ports.trips.get("T-1") == {"id": "T-1", "vehicle": "V1", "status": "open"}
    assert producer.sent == [] and consumer.commits == [{TP(TOPICS.events, 0): 2}]


def _all():
    from api.ports import AlertQuery

    return AlertQuery(limit=100)


def test_a_record_that_breaks_the_code_is_dead_lettered_not_crash_looped():
    class Broken:
        def put(self, alert):
            raise RuntimeError("a bug")

    recs = [
        Rec(TOPICS.alerts, 0, 0, b"v", orjson.dumps(alert("far", "V1", "梁溪", ts=1e20))),
        Rec(TOPICS.alerts, 0, 1, b"v", orjson.dumps(alert("bug", "V1", "梁溪"))),
    ]
    sink, consumer, producer, ports = sink_over(recs)
    ports.alerts = Broken()
    assert sink.step() == 2
    reasons = [h["landun-reason"] for _, _, h in producer.sent]
    assert reasons == [b"bad_field", b"error"]
    assert consumer.commits == [{TP(TOPICS.alerts, 0): 2}]


def test_no_commit_passes_a_dead_letter_the_broker_refused():
    from kafka.errors import MessageSizeTooLargeError

    recs = [Rec(TOPICS.alerts, 0, 0, b"v", b"{not json")]
    sink, consumer, _, _ = sink_over(recs, producer=Producer(MessageSizeTooLargeError()))
    with pytest.raises(MessageSizeTooLargeError):
        sink.step()
    assert consumer.commits == []
