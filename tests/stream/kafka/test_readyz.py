"""The worker's /readyz names each dependency (issue 10): Kafka, Redis when the worker writes
the live view, reference data, rebalancing; 503 while any is not "ok"."""

from __future__ import annotations

import orjson

from stream.kafka.producer import make_producer, publish_reference
from tests.stream.kafka.conftest import free_port, wait_for


def test_readyz_is_503_and_names_redis_when_redis_is_down(bootstrap, topics, sim, workers):
    producer = make_producer(bootstrap)
    publish_reference(producer, topics, sim / "fences.geojson", sim / "registry.json")
    producer.close()
    closed = free_port()  # nothing listens there
    worker = workers("--redis", f"redis://127.0.0.1:{closed}/0", "--redis-prefix", "readyz")
    seen = {}

    def settled() -> bool:
        assert worker.proc.poll() is None, worker.log.read_text()[-3000:]
        status, body = worker.get("/readyz")
        seen.update(status=status, body=orjson.loads(body or b"{}"))
        checks = seen["body"].get("checks", {})
        return checks.get("reference") == "ok" and checks.get("rebalancing") == "ok"

    wait_for(settled, 90, "the worker to load the reference data and own its partitions")
    body = seen["body"]
    assert seen["status"] == 503
    assert body["ready"] is False
    assert body["checks"]["kafka"] == "ok"
    assert body["checks"]["redis"].startswith("unreachable")
    assert body["partitions"]  # it runs: a live view that fails is counted, not fatal
