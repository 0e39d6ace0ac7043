"""Simulator -> Kafka -> `landun worker` -> alerts topic, against `landun detect` (same input)."""

from __future__ import annotations

from collections import Counter

import orjson

from stream.kafka.outputs import headers_dict
from stream.kafka.producer import PingSender, make_producer, publish_reference
from tests.stream.kafka.conftest import PARTITIONS, read_topic, wait_for
from tests.stream.kafka.verify import alert_versions, caught_up, checkpointed, context, linear


def ingest(bootstrap, topics, sim, batch_pings=200, final=True):
    producer = make_producer(bootstrap)
    publish_reference(producer, topics, sim / "fences.geojson", sim / "registry.json")
    sender = PingSender(producer, topics, PARTITIONS, batch_pings=batch_pings)
    sender.send_lines((sim / "pings.jsonl").read_bytes().splitlines())
    if final:
        sender.final()
    sender.flush()
    producer.close()
    return sender


def test_alerts_equal_landun_detect(bootstrap, topics, sim, workers):
    worker = workers()
    sender = ingest(bootstrap, topics, sim)
    wait_for(worker.ready, 90, "the worker to be ready")
    wait_for(lambda: caught_up(bootstrap, topics), 90, "the worker to process every record")

    expected = {
        a["id"]: a for a in map(orjson.loads, (sim / "alerts.jsonl").read_bytes().splitlines())
    }
    final, _ = alert_versions(bootstrap, topics)
    assert expected, "the simulation should raise alerts"
    assert final == expected  # same ids, same final contents

    # Every rejected ping is dead-lettered with the reason `landun detect` gives it.
    want = Counter(
        orjson.loads(line)["reason"] for line in (sim / "alerts.rej").read_bytes().splitlines()
    )
    dead = read_topic(bootstrap, topics.rejected)
    got = Counter(headers_dict(r.headers)["landun-reason"] for r in dead)
    assert got == want
    assert sender.sent == worker.metric("landun_pings_in_total")

    # Trips, stops and fence events are on the events topic.
    kinds = Counter(orjson.loads(r.value)["event"] for r in read_topic(bootstrap, topics.events))
    assert set(kinds) == {"trip", "stop", "fence"}

    # The checkpointed state is what one linear pass over each partition gives.
    assert checkpointed(bootstrap, topics) == linear(bootstrap, topics, context(sim))

    status, body = worker.get("/livez")
    assert status == 200 and orjson.loads(body)["ok"] is True


def test_single_ping_records_give_the_same_alerts(bootstrap, topics, sim, workers):
    worker = workers()
    ingest(bootstrap, topics, sim, batch_pings=1)
    wait_for(worker.ready, 90, "the worker to be ready")
    wait_for(lambda: caught_up(bootstrap, topics), 120, "the worker to process every record")
    expected = {
        a["id"] for a in map(orjson.loads, (sim / "alerts.jsonl").read_bytes().splitlines())
    }
    final, _ = alert_versions(bootstrap, topics)
    assert set(final) == expected
    # Keyed records land on the vehicle's partition, where the worker keeps its state.
    assert worker.metric('landun_pings_rejected_total{reason="misrouted"}') == 0
