"""Rebuild the Redis live view from Kafka (``landun rebuild-live``).

Redis is a derived view. Its positions come back from the worker's state changelog (compacted:
the latest state of every vehicle, whose last live ping is its position) and its alerts from the
alerts topic (every version, the last one wins; cases already in Redis are kept, since they are
the supervision centre's work and exist nowhere else). Districts come from the registry topic.
"""

from __future__ import annotations

import orjson
from kafka import KafkaConsumer, TopicPartition

from stream.kafka.reference import ReferenceBook
from stream.kafka.topics import Topics
from stream.live.view import RedisLiveView
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
    """Clear the positions and reload them and the alerts from Kafka; returns counts."""
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
            beats.append(Ping(**beat))
    alerts: dict[str, dict] = {}
    for rec in read_all(bootstrap, topics.alerts):
        alert = orjson.loads(rec.value)
        alerts[alert["id"]] = alert
    cleared = view.live.clear()
    view.write(beats, list(alerts.values()))
    return {"positions": len(beats), "alerts": len(alerts), "cleared_keys": cleared}
