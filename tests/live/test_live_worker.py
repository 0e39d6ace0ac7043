"""A worker keeps the Redis live view; `landun rebuild-live` rebuilds the same view from Kafka.

Alerts go to the alerts topic only (the alert sink stores them in PostgreSQL); in Redis they
only colour their vehicles."""

from __future__ import annotations

import uuid

import orjson
import redis

from landun.cli import main as landun
from stream.eventtime import to_iso
from stream.kafka.topics import Topics
from stream.live.redis import RedisLiveStore, client
from stream.live.view import ends_of_violations
from tests.stream.kafka.conftest import read_topic, wait_for
from tests.stream.kafka.test_e2e import ingest
from tests.stream.kafka.verify import alert_versions, caught_up, checkpointed


def _view(url: str, prefix: str) -> tuple[dict, dict[str, int]]:
    """The positions by vehicle and the violation ends in Redis under ``prefix``."""
    r = client(url)
    positions = {p["vehicle"]: p for p in RedisLiveStore(r, prefix).query()}
    violating = {k.decode(): int(v) for k, v in r.hgetall(f"{prefix}:violating").items()}
    return positions, violating


def _every_alert_version(bootstrap: str, topics: Topics) -> list[dict]:
    return [orjson.loads(rec.value) for rec in read_topic(bootstrap, topics.alerts)]


def test_worker_fills_redis_and_rebuild_live_gives_the_same_view(
    bootstrap, topics, sim, workers, redis_url, prefix
):
    worker = workers("--redis", redis_url, "--redis-prefix", prefix)
    ingest(bootstrap, topics, sim)
    wait_for(worker.ready, 90, "the worker to be ready")
    wait_for(lambda: caught_up(bootstrap, topics), 90, "the worker to process every record")

    final, _ = alert_versions(bootstrap, topics)
    assert final  # the alerts are on the alerts topic, and only there:
    r = redis.Redis.from_url(redis_url)
    assert not [k for k in r.scan_iter(f"{prefix}:*", count=1000) if b":alert" in k]
    positions, violating = _view(redis_url, prefix)
    assert violating == ends_of_violations(_every_alert_version(bootstrap, topics))
    beats = {
        vid: vs["beat"]
        for state in checkpointed(bootstrap, topics).values()
        for vid, vs in state["vehicles"].items()
        if vs["beat"] is not None
    }
    assert beats and set(positions) == set(beats)
    for vid, beat in beats.items():
        assert positions[vid]["ts"] == to_iso(beat["ts"])  # the latest accepted live ping
        assert positions[vid]["district"]
        # Drawn in violation exactly while one of its alerts says so.
        red = beat["ts"] <= violating.get(vid, -1)
        assert (positions[vid]["state"] == "violation") == red, vid

    other = f"lt{uuid.uuid4().hex[:10]}"
    try:
        args = ["rebuild-live", "--bootstrap", bootstrap, "--namespace", topics.namespace]
        assert landun([*args, "--redis", redis_url, "--redis-prefix", other]) == 0
        assert _view(redis_url, other) == (positions, violating)
    finally:
        keys = list(r.scan_iter(f"{other}:*", count=1000))
        if keys:
            r.delete(*keys)
    assert orjson.loads(worker.get("/readyz")[1])["ready"]
