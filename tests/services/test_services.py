"""The real services: Kafka 4.x (KRaft) and Redis from `make services`, and `landun services`
(PostgreSQL: test_postgres.py; docker-compose.yml: test_compose.py)."""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import time
from pathlib import Path

import pytest
import redis
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import KafkaTimeoutError

from landun.commands.services import run_services
from tests.ports import IN_USE, free_port

ROOT = Path(__file__).resolve().parents[2]
POLL_DEADLINE_S = 30


def create_topic(admin: KafkaAdminClient, name: str, partitions: int) -> dict:
    """Create `name` and return its description once every partition has a leader."""
    replication = 1 if partitions > 0 else -1
    # Without waiting, the broker's metadata cache may not list the new topic yet (KRaft lag).
    admin.create_topics([NewTopic(name, partitions, replication)], wait_for_metadata=True)
    (description,) = admin.describe_topics([name])
    return description


def consume(bootstrap: str, topic: str, group: str, expected: int) -> list:
    """Read `expected` records of `topic` as consumer group `group` (from the earliest offset)."""
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    records = []
    deadline = time.monotonic() + POLL_DEADLINE_S
    try:
        while len(records) < expected and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                records.extend(batch)
    finally:
        consumer.close()
    return records


# ---- Kafka -----------------------------------------------------------------------------------


def test_broker_runs_kraft_with_one_unfenced_node(kafka_admin: KafkaAdminClient) -> None:
    cluster = kafka_admin.describe_cluster()
    assert [b["broker_id"] for b in cluster["brokers"]] == [1]
    assert cluster["brokers"][0]["is_fenced"] is False
    quorum = kafka_admin.describe_metadata_quorum()
    (partition,) = quorum["topics"][0]["partitions"]
    assert partition["leader_id"] == 1
    assert [v["replica_id"] for v in partition["current_voters"]] == [1]


def test_created_topic_has_the_requested_partitions(
    kafka_admin: KafkaAdminClient, topic_name: str
) -> None:
    description = create_topic(kafka_admin, topic_name, 5)
    assert description["error_code"] == 0
    assert sorted(p["partition_index"] for p in description["partitions"]) == [0, 1, 2, 3, 4]
    assert topic_name in kafka_admin.list_topics()


def test_topic_without_a_partition_count_gets_the_broker_default(
    kafka_admin: KafkaAdminClient, topic_name: str
) -> None:
    # -1 asks the broker for its num.partitions (deploy/kafka/server.properties sets 8).
    description = create_topic(kafka_admin, topic_name, -1)
    assert len(description["partitions"]) == 8


def test_keyed_messages_round_trip_in_order_per_key(
    kafka_admin: KafkaAdminClient, kafka_bootstrap: str, topic_name: str
) -> None:
    create_topic(kafka_admin, topic_name, 8)
    vehicles = [f"SU-B{n:05d}" for n in range(6)]
    sent = [(vehicles[i % len(vehicles)], f"ping-{i}") for i in range(60)]
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    partition_of = {}
    for vehicle, value in sent:
        meta = producer.send(topic_name, key=vehicle.encode(), value=value.encode()).get(timeout=10)
        # The key decides the partition: every ping of a vehicle lands on the same one.
        assert partition_of.setdefault(vehicle, meta.partition) == meta.partition
    producer.close()

    records = consume(kafka_bootstrap, topic_name, f"{topic_name}.group", len(sent))
    assert len(records) == len(sent)
    for record in records:
        assert record.partition == partition_of[record.key.decode()]
    for vehicle in vehicles:
        got = [r.value.decode() for r in records if r.key.decode() == vehicle]
        want = [value for key, value in sent if key == vehicle]
        assert got == want  # consumed per partition, so per vehicle, in produced order


def test_unknown_topic_is_not_created_by_producing(
    kafka_admin: KafkaAdminClient, kafka_bootstrap: str, topic_name: str
) -> None:
    # auto.create.topics.enable=false: a misspelt topic fails instead of appearing empty.
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, max_block_ms=2_000)
    try:
        with pytest.raises(KafkaTimeoutError):
            producer.send(topic_name, value=b"lost").get(timeout=10)
    finally:
        producer.close(timeout=2)
    assert topic_name not in kafka_admin.list_topics()


# ---- Redis -----------------------------------------------------------------------------------


def test_redis_set_get_and_expiry(redis_client: redis.Redis, redis_prefix: str) -> None:
    key = redis_prefix + "vehicle:SU-B00001"
    assert redis_client.get(key) is None
    redis_client.set(key, "31.49,120.31", ex=60)
    assert redis_client.get(key) == "31.49,120.31"
    assert 0 < redis_client.ttl(key) <= 60


def test_redis_stream_append_and_range(redis_client: redis.Redis, redis_prefix: str) -> None:
    stream = redis_prefix + "alerts"
    ids = [redis_client.xadd(stream, {"id": f"alert-{n}", "type": "overspeed"}) for n in range(3)]
    entries = redis_client.xrange(stream)
    assert [entry_id for entry_id, _ in entries] == ids
    assert [fields["id"] for _, fields in entries] == ["alert-0", "alert-1", "alert-2"]
    # A resuming reader asks for what came after the last id it saw.
    after_first = redis_client.xrange(stream, min=f"({ids[0]}")
    assert [fields["id"] for _, fields in after_first] == ["alert-1", "alert-2"]


# ---- landun services -------------------------------------------------------------------------


def test_landun_services_status_agrees_with_its_lines(
    kafka_bootstrap: str, redis_client, pg_admin_url: str, capfd
) -> None:
    # Issue 15: the services answer (the fixtures fail otherwise), but whether they are this
    # checkout's (its var/ pid files) depends on where they were started: a clone without var/
    # is told "down". So: one line per service, each up (with a live pid) or down, and the exit
    # status 0 exactly when all are up. The up path is proven on a private server below.
    rc = run_services(argparse.Namespace(action="status"))
    out = capfd.readouterr().out
    for service in ("kafka", "redis", "postgres"):
        line = re.search(rf"^{service}: (up on 127\.0\.0\.1:\d+ \(pid (\d+)|down)", out, re.M)
        assert line, out
        assert line[2] is None or Path(f"/proc/{line[2]}").exists(), out
    assert (rc == 0) == (out.count(": up on ") == 3), out


def test_redis_status_follows_a_private_server_up_and_down(tmp_path: Path) -> None:
    # A server of the test's own (its own directory and port), not the checkout's var/redis.
    script = ROOT / "scripts" / "redis.sh"
    env = dict(os.environ, LANDUN_REDIS_DIR=str(tmp_path))

    def redis_sh(action: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["bash", str(script), action], env=env, capture_output=True, text=True, timeout=60
        )

    for _ in range(3):  # a port chosen free may be taken before redis-server binds it
        port = env["LANDUN_REDIS_PORT"] = str(free_port())
        if redis_sh("status").stdout.strip() != "redis: down":
            pytest.fail("a private redis status is not down before its start")
        up = redis_sh("up")
        log = tmp_path / "redis.log"
        if up.returncode == 0 or IN_USE not in (log.read_text() if log.exists() else "").lower():
            break
    try:
        assert up.returncode == 0, up.stderr
        pid = (tmp_path / "redis.pid").read_text().strip()
        status = redis_sh("status")
        assert status.returncode == 0
        assert status.stdout.strip() == f"redis: up on 127.0.0.1:{port} (pid {pid})"
    finally:  # only a server whose pid file is ours: never the checkout's shared one
        if (tmp_path / "redis.pid").exists():
            assert redis_sh("down").returncode == 0
    after = redis_sh("status")
    assert (after.returncode, after.stdout.strip()) == (1, "redis: down")


def test_landun_services_without_the_script_says_so(tmp_path: Path, capsys) -> None:
    missing = tmp_path / "services.sh"
    assert run_services(argparse.Namespace(action="status"), script=missing) == 2
    assert str(missing) in capsys.readouterr().err
