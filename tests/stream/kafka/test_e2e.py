"""Simulator -> Kafka -> `landun worker` -> alerts topic, against `landun detect` (same input):
every alert record counted (no duplicate), the final alerts equal in ids and contents (issue 15:
the single-record run compared ids only)."""

from __future__ import annotations

from collections import Counter

import orjson

from landun.cli import main as landun
from stream.kafka.outputs import headers_dict
from stream.kafka.topics import partition_for
from tests.stream.kafka.conftest import PARTITIONS, read_topic, wait_for
from tests.stream.kafka.copies import assert_alerts
from tests.stream.kafka.verify import caught_up, checkpointed, context, linear


def ingest(bootstrap, topics, sim, batch_pings=200, final=True):
    """`landun ingest` of the simulation's files (reference data first)."""
    args = ["ingest", str(sim / "pings.jsonl"), "--bootstrap", bootstrap]
    args += ["--namespace", topics.namespace, "--partitions", str(PARTITIONS)]
    args += ["--fences", str(sim / "fences.geojson"), "--registry", str(sim / "registry.json")]
    args += ["--single"] if batch_pings == 1 else ["--batch", str(batch_pings)]
    assert landun([*args, "--final"] if final else args) == 0
    return len([line for line in (sim / "pings.jsonl").read_bytes().splitlines() if line.strip()])


def expected_alerts(sim) -> dict[str, dict]:
    return {a["id"]: a for a in map(orjson.loads, (sim / "alerts.jsonl").read_bytes().splitlines())}


def test_alerts_equal_landun_detect(bootstrap, topics, sim, workers, tmp_path):
    worker = workers()
    sent = ingest(bootstrap, topics, sim)
    wait_for(worker.ready, 90, "the worker to be ready")
    wait_for(lambda: caught_up(bootstrap, topics), 90, "the worker to process every record")

    expected = expected_alerts(sim)
    assert expected, "the simulation should raise alerts"
    assert_alerts(bootstrap, topics, expected, tmp_path)  # no duplicate; same ids and contents

    # Every rejected ping is dead-lettered with the reason `landun detect` gives it.
    want = Counter(
        orjson.loads(line)["reason"] for line in (sim / "alerts.rej").read_bytes().splitlines()
    )
    dead = read_topic(bootstrap, topics.rejected)
    got = Counter(headers_dict(r.headers)["landun-reason"] for r in dead)
    assert got == want
    assert sent == worker.metric("landun_pings_in_total")

    # Trips, stops and fence events are on the events topic.
    kinds = Counter(orjson.loads(r.value)["event"] for r in read_topic(bootstrap, topics.events))
    assert set(kinds) == {"trip", "stop", "fence"}

    # The checkpointed state is what one linear pass over each partition gives.
    assert checkpointed(bootstrap, topics) == linear(bootstrap, topics, context(sim))

    status, body = worker.get("/livez")
    assert status == 200 and orjson.loads(body)["ok"] is True


def test_single_ping_records_give_the_same_alerts(bootstrap, topics, sim, workers, tmp_path):
    worker = workers()
    ingest(bootstrap, topics, sim, batch_pings=1)
    wait_for(worker.ready, 90, "the worker to be ready")
    wait_for(lambda: caught_up(bootstrap, topics), 120, "the worker to process every record")
    assert_alerts(bootstrap, topics, expected_alerts(sim), tmp_path)  # ids and contents
    # Keyed records land on the vehicle's partition, where the worker keeps its state.
    assert worker.metric('landun_pings_rejected_total{reason="misrouted"}') == 0


def test_sim_feed_streams_the_same_pings_as_landun_sim(bootstrap, topics, tmp_path):
    args = ["--vehicles", "6", "--hours", "0.5", "--seed", "11"]
    assert landun(["sim", *args, "--out", str(tmp_path)]) == 0
    feed = ["sim-feed", *args, "--rate", "7200", "--bootstrap", bootstrap]
    assert landun([*feed, "--namespace", topics.namespace, "--partitions", str(PARTITIONS)]) == 0
    per_partition: dict[int, list] = {}
    for rec in read_topic(bootstrap, topics.pings):
        per_partition.setdefault(rec.partition, []).extend(orjson.loads(rec.value))
    want: dict[int, list] = {}
    for line in (tmp_path / "pings.jsonl").read_bytes().splitlines():
        ping = orjson.loads(line)
        want.setdefault(partition_for(ping["vehicle"], PARTITIONS), []).append(ping)
    assert per_partition == want  # same pings, arrival order kept within each partition
    fences = {r.key for r in read_topic(bootstrap, topics.fences)}
    geo = orjson.loads((tmp_path / "fences.geojson").read_bytes())
    assert fences == {f["id"].encode() for f in geo["features"]}


def test_rocksdb_store_gives_the_same_alerts_and_state(bootstrap, topics, sim, workers, tmp_path):
    # The production store (rocksdict); tables are read and written in a record's partition.
    worker = workers("--store", "rocksdb://", "--datadir", str(tmp_path / "rocks"))
    ingest(bootstrap, topics, sim)
    wait_for(worker.ready, 90, "the worker to be ready")
    wait_for(lambda: caught_up(bootstrap, topics), 90, "the worker to process every record")
    assert_alerts(bootstrap, topics, expected_alerts(sim), tmp_path)
    assert checkpointed(bootstrap, topics) == linear(bootstrap, topics, context(sim))
    assert any((tmp_path / "rocks").rglob("*"))
