"""The alert sink: the workers' alerts and trips from Kafka into the system of record.

It reads ``{ns}.alerts`` and ``{ns}.events`` (trips only; stops and fence events are the
archive's) as the consumer group ``{ns}-alert-sink`` and writes every record through
:class:`api.feed.Feed`: the store's transaction has committed when ``put`` returns, and only then
is the change announced on the bus (the hint the API processes fan out to websockets).

Offsets are committed after every record of a polled batch is written. When the system of
record is unreachable (:class:`~stream.live.errors.ServiceUnavailable`) the batch stops: each
partition is rewound to its first unwritten record, the written ones are committed, and the
sink retries after a backoff — nothing is skipped. A record that can never be written (not
JSON, a field missing, a value PostgreSQL refuses) is dead-lettered to ``{ns}.alerts.rejected``
with its reason and source, durably before the offset passes it, so it never blocks its
partition and is never silently lost.

Idempotent: a record delivered again (a crash between the write and the commit, a replay from
the start) finds its ``(id, version)`` already stored and changes nothing; an open version
after the ended one never reopens an alert (``api.ports.supersedes``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import orjson
from kafka.errors import KafkaError
from prometheus_client import CollectorRegistry, Counter

from api.feed import Feed, FeedError
from stream.kafka.topics import Topics
from stream.live.errors import ServiceUnavailable

log = logging.getLogger(__name__)
DETAIL_CHARS = 500


@dataclass(frozen=True, slots=True)
class Rejected:
    """Why a record could not be written: ``reason`` is a code, ``detail`` the text."""

    reason: str
    detail: str


class SinkMetrics:
    """The sink's counters (on its own registry, exposed by ``landun alert-sink --port``)."""

    def __init__(self, registry: CollectorRegistry | None = None):
        self.registry = registry or CollectorRegistry()
        self.written = Counter(
            "landun_sink_records_total",
            "Records of the alerts/events topics handled, by outcome",
            ["topic", "outcome"],
            registry=self.registry,
        )
        self.outages = Counter(
            "landun_sink_outages_total",
            "Batches stopped because a backing service was unreachable",
            ["service"],
            registry=self.registry,
        )


class AlertSink:
    """Moves records from the output topics into the stores, batch by batch.

    Parameters
    ----------
    consumer : kafka.KafkaConsumer
        Subscribed to the alerts and events topics, ``enable_auto_commit=False``.
    producer : kafka.KafkaProducer
        For the dead letter.
    feed : Feed
        The intake over the production ports.
    topics : Topics
        The namespace's topic names.
    backoff_s : float
        Wait after an outage before the next attempt.
    """

    def __init__(
        self,
        consumer,
        producer,
        feed: Feed,
        topics: Topics,
        metrics: SinkMetrics | None = None,
        backoff_s: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.consumer, self.producer, self.feed, self.topics = consumer, producer, feed, topics
        self.metrics = metrics or SinkMetrics()
        self.backoff_s, self._sleep = backoff_s, sleep
        self._sent: list = []  # dead letters of the batch, until the commit checks them

    def step(self, timeout_ms: int = 500, max_records: int = 1000) -> int:
        """Poll one batch, write it, commit; returns the records written or dead-lettered."""
        batch = self.consumer.poll(timeout_ms=timeout_ms, max_records=max_records)
        done, dead = 0, 0
        pending = sorted(batch.items(), key=lambda item: (item[0].topic, item[0].partition))
        for n, (tp, records) in enumerate(pending):
            for i, record in enumerate(records):
                try:
                    outcome = self.apply(record)
                except ServiceUnavailable as exc:
                    self._rewind(tp, records[i].offset, pending[n + 1 :])
                    self._commit(dead)
                    self.metrics.outages.labels(exc.service).inc()
                    log.warning("alert sink paused: %s; retrying in %.1f s", exc, self.backoff_s)
                    self._sleep(self.backoff_s)
                    return done
                if isinstance(outcome, Rejected):
                    self._dead_letter(record, outcome)
                    dead += 1
                done += 1
        if done:
            self._commit(dead)
        return done

    def apply(self, record) -> Rejected | None:
        """Write one record; a :class:`Rejected` when it can never be written."""
        kind = "alert" if record.topic == self.topics.alerts else "event"
        try:
            payload = orjson.loads(record.value) if record.value is not None else None
        except orjson.JSONDecodeError as exc:
            return self._count(record, Rejected("bad_json", str(exc)))
        if not isinstance(payload, dict):
            return self._count(record, Rejected("not_an_object", f"got {type(payload).__name__}"))
        try:
            if kind == "alert":
                self.feed.alert(payload)
            elif payload.get("event") == "trip":
                self.feed.trip({k: v for k, v in payload.items() if k != "event"})
            else:
                return self._count(record, None, "skipped")
        except ServiceUnavailable:
            raise  # the batch stops and is retried: the record is fine, a service is not
        except FeedError as exc:
            return self._count(record, Rejected("bad_field", str(exc)))
        except ValueError as exc:  # refused by the store (api.ports.RecordRejected and kin)
            return self._count(record, Rejected("refused", str(exc)))
        except Exception as exc:  # a bug meeting a record: never crash-loop on it
            log.exception("alert sink: record %s:%d:%d failed", record.topic,
                          record.partition, record.offset)  # fmt: skip
            return self._count(record, Rejected("error", f"{type(exc).__name__}: {exc}"))
        return self._count(record, None)

    def _count(self, record, rejected: Rejected | None, outcome: str = "written"):
        self.metrics.written.labels(record.topic, rejected.reason if rejected else outcome).inc()
        return rejected

    def _rewind(self, tp, offset: int, untouched) -> None:
        """Point the consumer back at the first unwritten record of every polled partition."""
        self.consumer.seek(tp, offset)
        for other, records in untouched:
            self.consumer.seek(other, records[0].offset)

    def _dead_letter(self, record, why: Rejected) -> None:
        log.error(
            "alert sink: %s:%d:%d dead-lettered (%s): %s",
            record.topic, record.partition, record.offset, why.reason, why.detail,
        )  # fmt: skip
        headers = [
            ("landun-reason", why.reason.encode()),
            ("landun-detail", why.detail[:DETAIL_CHARS].encode("utf-8", "replace")),
            ("landun-source", f"{record.topic}:{record.partition}:{record.offset}".encode()),
        ]
        self._sent.append(
            self.producer.send(
                self.topics.alerts_rejected, key=record.key, value=record.value or b"",
                headers=headers,
            )
        )  # fmt: skip

    def _commit(self, dead: int) -> None:
        if dead:
            # The dead letters are durable before the offset passes them: flush, then each
            # record's own result (flush does not raise for a record that failed).
            self.producer.flush(timeout=60)
            sent, self._sent = self._sent, []
            for future in sent:
                future.get(timeout=0)
        self.consumer.commit()

    def run(self, stop: Callable[[], bool]) -> None:
        """Step until ``stop()`` is true; a Kafka failure rewinds to the committed offsets and
        retries after the backoff (the process never dies of an outage)."""
        while not stop():
            try:
                self.step()
            except KafkaError as exc:
                log.warning(
                    "alert sink: Kafka failed (%r); retrying from the committed offsets", exc
                )
                self.metrics.outages.labels("kafka").inc()
                self._sleep(self.backoff_s)
                self._rewind_to_committed()

    def _rewind_to_committed(self) -> None:
        """Records polled but not committed are read again (a write may have been cut off)."""
        try:
            for tp in self.consumer.assignment():
                committed = self.consumer.committed(tp)
                if committed is None:
                    self.consumer.seek_to_beginning(tp)
                else:
                    self.consumer.seek(tp, committed)
        except KafkaError as exc:  # the group will re-deliver from the commit after a rejoin
            log.warning("alert sink: cannot rewind yet (%r)", exc)
