"""The real services: Kafka 4.x (KRaft), Redis and PostgreSQL from `make services`, and
docker-compose.yml."""

from __future__ import annotations

import argparse
import inspect
import itertools
import os
import re
import shutil
import socket
import subprocess
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import psycopg
import pytest
import redis
import sqlalchemy
import yaml
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import KafkaTimeoutError

from api.db import connect
from landun.cli import build_parser
from landun.commands.services import run_services
from tests.services.conftest import (
    create_test_database,
    drop_test_database,
    pg_address,
    pg_connect,
)

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
KAFKA_POM = ROOT / "deploy" / "kafka" / "pom.xml"
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


# ---- PostgreSQL ------------------------------------------------------------------------------


def database_of(url: str) -> str:
    return url.rsplit("/", 1)[1]


def test_postgres_answers_as_landun_without_superuser_rights(pg_admin_url: str) -> None:
    assert pg_admin_url.startswith("postgresql+psycopg://landun@127.0.0.1:")
    with pg_connect() as conn:
        row = conn.execute(
            "SELECT current_user, current_database(), r.rolsuper, r.rolcreatedb, r.rolcreaterole"
            " FROM pg_roles r WHERE r.rolname = current_user"
        ).fetchone()
        owner = conn.execute(
            "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'landun'"
        ).fetchone()
    assert row == ("landun", "landun", False, True, False)
    assert owner == ("landun",)


def test_postgres_listens_on_loopback_only(pg_admin_url: str) -> None:
    host, port = pg_address()
    with pg_connect() as conn:
        assert conn.execute("SHOW listen_addresses").fetchone() == ("127.0.0.1",)
        assert conn.execute("SELECT host(inet_server_addr())").fetchone() == ("127.0.0.1",)
    # 127.0.0.2 reaches this machine too (all of 127/8 is loopback), but it is not 127.0.0.1: a
    # server listening on every address ('*', 0.0.0.0) would accept this connection.
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.2", port), timeout=3).close()


def test_database_url_is_an_empty_writable_database_of_landun(database_url: str) -> None:
    name = database_of(database_url)
    assert database_url == f"postgresql+psycopg://landun@127.0.0.1:{pg_address()[1]}/{name}"
    assert re.fullmatch(r"landun_t_[0-9a-f]+", name)
    engine = sqlalchemy.create_engine(database_url)
    try:
        with engine.begin() as conn:
            owner = conn.execute(
                sqlalchemy.text(
                    "SELECT pg_get_userbyid(datdba) FROM pg_database"
                    " WHERE datname = current_database()"
                )
            ).scalar_one()
            assert owner == "landun"
            assert sqlalchemy.inspect(conn).get_table_names() == []
            # A name of no landun table: the shared database `landun` has the schema applied.
            conn.execute(sqlalchemy.text("CREATE TABLE probe_t (id text PRIMARY KEY, kind text)"))
            conn.execute(sqlalchemy.text("INSERT INTO probe_t VALUES ('a-1', 'route_deviation')"))
        with engine.connect() as conn:
            rows = conn.execute(sqlalchemy.text("SELECT id, kind FROM probe_t")).all()
        assert [tuple(r) for r in rows] == [("a-1", "route_deviation")]
    finally:
        engine.dispose()
    # The table exists in this test's database only.
    with pg_connect() as conn:
        found = conn.execute("SELECT to_regclass('public.probe_t')").fetchone()
    assert found == (None,)


@pytest.mark.parametrize("turn", ["first", "second"])
def test_database_url_is_fresh_for_every_test(database_url: str, turn: str) -> None:
    # Both turns create the same table: in a shared database the second one would fail.
    with pg_connect(database_of(database_url)) as conn:
        conn.execute("CREATE TABLE trips (vehicle text)")
        conn.execute("INSERT INTO trips VALUES (%s)", (turn,))
        assert conn.execute("SELECT vehicle FROM trips").fetchall() == [(turn,)]


def test_test_database_is_dropped_even_with_connections_open(pg_admin_url: str) -> None:
    name = create_test_database()
    left_open = pg_connect(name)
    try:
        drop_test_database(name)
        with pg_connect() as conn:
            assert conn.execute(
                "SELECT count(*) FROM pg_database WHERE datname = %s", (name,)
            ).fetchone() == (0,)
        assert left_open.closed or left_open.broken or not is_alive(left_open)
    finally:
        left_open.close()


def is_alive(conn: psycopg.Connection) -> bool:
    try:
        conn.execute("SELECT 1")
    except psycopg.OperationalError:
        return False
    return True


# ---- landun services -------------------------------------------------------------------------


def test_landun_services_status_reports_all_up(
    kafka_bootstrap: str, redis_client, pg_admin_url: str, capfd
) -> None:
    assert run_services(argparse.Namespace(action="status")) == 0
    out = capfd.readouterr().out
    for service in ("kafka", "redis", "postgres"):
        assert re.search(rf"^{service}: up on 127\.0\.0\.1:\d+", out, re.MULTILINE), out


def test_landun_services_without_the_script_says_so(tmp_path: Path, capsys) -> None:
    missing = tmp_path / "services.sh"
    assert run_services(argparse.Namespace(action="status"), script=missing) == 2
    assert str(missing) in capsys.readouterr().err


# ---- docker-compose.yml ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


def pinned_kafka_version() -> str:
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    return ET.parse(KAFKA_POM).getroot().find("m:properties/m:kafka.version", ns).text


def landun_services(compose: dict) -> dict[str, list[str]]:
    """The compose services that run the landun image: name -> command."""
    services = compose["services"]
    return {
        name: service["command"]
        for name, service in services.items()
        if str(service.get("image", "")).startswith("${LANDUN_IMAGE")
    }


def test_compose_describes_the_production_services(compose: dict) -> None:
    services = compose["services"]
    assert set(services) == {"kafka", "redis", "postgres", "worker", "api", "alert-sink"}
    assert landun_services(compose) == {
        "worker": ["landun", "worker"],
        "api": ["landun", "api"],
        "alert-sink": ["landun", "alert-sink"],
    }
    assert re.fullmatch(r"\$\{LANDUN_WORKERS:-\d+\}", str(services["worker"]["deploy"]["replicas"]))


def test_compose_runs_only_real_landun_sub_commands(compose: dict) -> None:
    # argparse exits (SystemExit) on an unknown sub-command or argument.
    parser = build_parser()
    for name, command in landun_services(compose).items():
        assert command[0] == "landun", name
        try:
            args = parser.parse_args(command[1:])
        except SystemExit:
            pytest.fail(f"compose service {name} runs {command}, which `landun` does not accept")
        assert args.command == command[1], name


def test_compose_postgres_is_the_system_of_record(compose: dict) -> None:
    services = compose["services"]
    postgres = services["postgres"]
    assert re.fullmatch(r"postgres:1[56]-alpine|postgres:15", postgres["image"])
    env = postgres["environment"]
    # No default: compose refuses to start without a password.
    assert re.fullmatch(r"\$\{LANDUN_PG_PASSWORD:\?[^}]+\}", env["POSTGRES_PASSWORD"])
    assert (env["POSTGRES_USER"], env["POSTGRES_DB"]) == ("landun", "landun")
    assert "pg_isready" in postgres["healthcheck"]["test"]
    assert any(m.startswith("postgres-data:") for m in postgres["volumes"])
    url = "postgresql+psycopg://landun:${LANDUN_PG_PASSWORD}@postgres:5432/landun"
    for name in landun_services(compose):
        assert services[name]["environment"]["LANDUN_DATABASE_URL"] == url, name
    healthy = {"condition": "service_healthy"}
    for name in ("api", "alert-sink"):
        depends_on = services[name]["depends_on"]
        assert depends_on.get("postgres") == healthy, name
        assert depends_on.get("kafka") == depends_on.get("redis") == healthy, name
    api_env = services["api"]["environment"]
    assert (api_env["LANDUN_API_HOST"], api_env["LANDUN_API_PORT"]) == ("0.0.0.0", 8000)
    assert {"LANDUN_REDIS_URL", "LANDUN_KAFKA_BOOTSTRAP"} <= set(api_env)


def test_compose_postgres_has_connections_for_the_landun_processes(compose: dict) -> None:
    # docs/services.md: four API and four sink replicas and one operator's command fit.
    command = compose["services"]["postgres"]["command"]
    settings = dict(arg.split("=", 1) for flag, arg in itertools.pairwise(command) if flag == "-c")
    defaults = inspect.signature(connect).parameters
    pool = defaults["pool_size"].default + defaults["max_overflow"].default
    budget = 4 * (pool + 1) + 4 * pool + pool  # + 1: the API's outbox relay's LISTEN
    reserved = 3  # superuser_reserved_connections
    assert int(settings["max_connections"]) - reserved >= budget


def test_compose_kafka_is_kraft_at_the_pinned_version(compose: dict) -> None:
    kafka = compose["services"]["kafka"]
    assert kafka["image"] == f"apache/kafka:{pinned_kafka_version()}"
    env = kafka["environment"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == f"{env['KAFKA_NODE_ID']}@kafka:9093"
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"


def test_compose_references_only_defined_services_and_volumes(compose: dict) -> None:
    services = compose["services"]
    declared_volumes = set(compose.get("volumes") or {})
    for name, service in services.items():
        assert set(service.get("depends_on") or {}) <= set(services) - {name}, name
        for mount in service.get("volumes") or []:
            source = mount.split(":", 1)[0]
            if not source.startswith((".", "/")):
                assert source in declared_volumes, f"{name} mounts undeclared volume {source}"
        for key, value in (service.get("environment") or {}).items():
            if key.startswith("LANDUN_") and key.endswith(("_BOOTSTRAP", "_URL")):
                # The host follows the user:password@ of a URL that has one.
                netloc = str(value).split("://")[-1].rsplit("@", 1)[-1]
                host = re.split(r"[/:]+", netloc)[0]
                assert host in services, f"{name}: {key} points at unknown host {host}"


def docker_compose_works() -> bool:
    docker = shutil.which("docker")
    if docker is None:
        return False
    probe = subprocess.run([docker, "compose", "version"], capture_output=True, check=False)
    return probe.returncode == 0


@pytest.mark.skipif(
    not docker_compose_works(), reason="no `docker compose` plugin; checked with PyYAML only"
)
def test_docker_compose_config_accepts_the_file(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "LANDUN_SECRET_KEY": "test-secret-not-for-production",
        "LANDUN_PG_PASSWORD": "test-password-not-for-production",
    }
    result = subprocess.run(
        ["docker", "compose", "-f", str(COMPOSE_FILE), "config", "--format", "json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert '"worker"' in result.stdout
