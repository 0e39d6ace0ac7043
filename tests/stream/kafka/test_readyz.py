"""The worker's /readyz names each dependency (issue 10): Kafka, Redis when the worker writes
the live view, reference data, rebalancing; 503 while any is not "ok"."""

from __future__ import annotations

from collections.abc import Iterator

import orjson
import pytest

from stream.kafka.producer import make_producer, publish_reference
from tests.ports import closed_port
from tests.stream.kafka.conftest import wait_for


@pytest.fixture
def redis_down() -> Iterator[str]:
    """A Redis URL that refuses connections; its port is held for the test (issue 15: a port
    chosen free and let go could be taken by a real server before the test ends)."""
    with closed_port() as port:
        yield f"redis://127.0.0.1:{port}/0"


def test_readyz_is_503_and_names_redis_when_redis_is_down(
    bootstrap, topics, sim, workers, redis_down
):
    producer = make_producer(bootstrap)
    publish_reference(producer, topics, sim / "fences.geojson", sim / "registry.json")
    producer.close()
    worker = workers("--redis", redis_down, "--redis-prefix", "readyz")
    seen = {}

    def settled() -> bool:
        worker.ready()  # fails if the worker died; starts it again if it lost its port
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
