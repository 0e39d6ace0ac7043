"""A worker keeps the Redis live view; `landun rebuild-live` rebuilds the same view from Kafka."""

from __future__ import annotations

import uuid

import orjson
import redis

from api.eventtime import to_iso
from api.ports import AlertQuery
from api.redis_ports import RedisAlertStore, RedisLiveStore, client
from landun.cli import main as landun
from tests.stream.kafka.conftest import wait_for
from tests.stream.kafka.test_e2e import ingest
from tests.stream.kafka.verify import alert_versions, caught_up, checkpointed


def _view(url, prefix):
    r = client(url)
    live, alerts = RedisLiveStore(r, prefix), RedisAlertStore(r, prefix)
    positions = {p["vehicle"]: p for p in live.query()}
    stored = {a["id"]: {k: v for k, v in a.items() if k != "case"}
              for a in alerts.query(AlertQuery(limit=100_000))}  # fmt: skip
    return positions, stored


def test_worker_fills_redis_and_rebuild_live_gives_the_same_view(
    bootstrap, topics, sim, workers, redis_url, prefix
):
    worker = workers("--redis", redis_url, "--redis-prefix", prefix)
    ingest(bootstrap, topics, sim)
    wait_for(worker.ready, 90, "the worker to be ready")
    wait_for(lambda: caught_up(bootstrap, topics), 90, "the worker to process every record")

    final, _ = alert_versions(bootstrap, topics)
    positions, stored = _view(redis_url, prefix)
    assert stored == final  # every alert in its final version (times as ISO +08:00)
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
    head = RedisAlertStore(client(redis_url), prefix).head()
    assert head >= len(final)

    other = f"lt{uuid.uuid4().hex[:10]}"
    try:
        args = ["rebuild-live", "--bootstrap", bootstrap, "--namespace", topics.namespace]
        assert landun([*args, "--redis", redis_url, "--redis-prefix", other]) == 0
        rebuilt_positions, rebuilt_alerts = _view(redis_url, other)
        assert rebuilt_alerts == stored
        assert {
            v: (p["ts"], p["lat"], p["lng"], p["district"]) for v, p in rebuilt_positions.items()
        } == {v: (p["ts"], p["lat"], p["lng"], p["district"]) for v, p in positions.items()}
    finally:
        r = redis.Redis.from_url(redis_url)
        keys = list(r.scan_iter(f"{other}:*", count=1000))
        if keys:
            r.delete(*keys)
    assert orjson.loads(worker.get("/readyz")[1])["ready"]
