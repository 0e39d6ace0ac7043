"""Rebuild the Redis live view from Kafka (``landun rebuild-live``).

Redis is a derived view. Its positions come back from the worker's state changelog (compacted:
the latest state of every vehicle, whose last live ping is its position), the times until which
vehicles are drawn in violation (``<prefix>:violating``) from the alerts topic, and districts
from the registry topic. Alerts and their cases are not in Redis: the alert sink
(``landun alert-sink``) re-reads the alerts topic into PostgreSQL.
"""

from __future__ import annotations

import orjson
from kafka import KafkaConsumer, TopicPartition

from stream.kafka.reference import ReferenceBook
from stream.kafka.topics import Topics
from stream.live.view import RedisLiveView, ends_of_violations
from stream.ping import Ping


def read_all(bootstrap: str, topic: str, idle_ms: int = 2000):
    """Every record of ``topic`` from the beginning to its current end."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, consumer_timeout_ms=idle_ms
    )
    try:
        parts = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        if not tps:
            return
        ends = consumer.end_offsets(tps)
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        left = {tp for tp in tps if ends[tp] > 0}
        while left:
            batch = consumer.poll(timeout_ms=idle_ms, max_records=10_000)
            if not batch:
                break
            for tp, records in batch.items():
                yield from records
                if consumer.position(tp) >= ends[tp]:
                    left.discard(tp)
    finally:
        consumer.close()


def rebuild_live(bootstrap: str, topics: Topics, view: RedisLiveView) -> dict[str, int]:
    """Clear the positions and reload them, coloured by the alerts, from Kafka.

    Returns
    -------
    dict
        ``positions`` written, ``alerts`` versions read (for the colour), ``cleared_keys``
        deleted.
    """
    book = ReferenceBook()
    for rec in read_all(bootstrap, topics.registry):
        book.apply_entry(rec.key, rec.value)
    view.use_registry(book.registry())
    latest: dict[bytes, bytes | None] = {}
    for rec in read_all(bootstrap, topics.changelog("state")):
        if rec.key and rec.key.startswith(b"v/"):
            # v/<slot>/<vehicle>: the newest record of either slot is the latest state
            latest[rec.key.split(b"/", 2)[-1]] = rec.value
    beats = []
    for raw in latest.values():
        beat = orjson.loads(raw)["beat"] if raw else None
        if beat is not None:
            beats.append(Ping.from_dict(beat))
    # Every version, as the workers saw them: an open one draws its vehicle red for
    # VIOLATION_MS even when the ended one says it ended sooner. Per vehicle only: the topic
    # keeps a year of alerts.
    until: dict[str, int] = {}
    n_alerts = 0
    for rec in read_all(bootstrap, topics.alerts):
        ends_of_violations([orjson.loads(rec.value)], into=until)
        n_alerts += 1
    cleared = view.live.clear()
    view.extend_violations(until)
    view.write(beats, [])
    return {"positions": len(beats), "alerts": n_alerts, "cleared_keys": cleared}
