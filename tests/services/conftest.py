"""Connections to the real Kafka, Redis and PostgreSQL that `make services` starts
(docs/services.md).

These fixtures fail, never skip, when a service is not up: a green run must mean the tests really
talked to Kafka, Redis and PostgreSQL.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator

import psycopg
import pytest
import redis
from kafka import KafkaAdminClient
from kafka.errors import KafkaError

HOW_TO_START = "start them with `make services` (or `landun services up`); see docs/services.md"


def kafka_bootstrap_address() -> str:
    """The broker address the tests use: LANDUN_KAFKA_BOOTSTRAP, else loopback LANDUN_KAFKA_PORT."""
    port = os.environ.get("LANDUN_KAFKA_PORT", "9092")
    return os.environ.get("LANDUN_KAFKA_BOOTSTRAP", f"127.0.0.1:{port}")


def redis_address() -> tuple[str, int]:
    """The Redis host and port the tests use: loopback and LANDUN_REDIS_PORT (6379)."""
    return "127.0.0.1", int(os.environ.get("LANDUN_REDIS_PORT", "6379"))


def pg_address() -> tuple[str, int]:
    """The PostgreSQL host and port the tests use: loopback and LANDUN_PG_PORT (5432)."""
    return "127.0.0.1", int(os.environ.get("LANDUN_PG_PORT", "5432"))


def pg_url(database: str) -> str:
    """The SQLAlchemy URL of `database` as role landun (trust auth: no password, dev-only)."""
    host, port = pg_address()
    return f"postgresql+psycopg://landun@{host}:{port}/{database}"


def pg_connect(database: str = "landun", **kwargs) -> psycopg.Connection:
    """A psycopg connection to `database` as role landun (autocommit unless told otherwise)."""
    host, port = pg_address()
    kwargs.setdefault("autocommit", True)
    return psycopg.connect(
        host=host, port=port, user="landun", dbname=database, connect_timeout=5, **kwargs
    )


def create_test_database() -> str:
    """Create a fresh, empty database `landun_t_<hex>` owned by landun and return its name."""
    name = f"landun_t_{uuid.uuid4().hex[:16]}"
    with pg_connect() as conn:
        conn.execute(f'CREATE DATABASE "{name}" OWNER landun')
    return name


def drop_test_database(name: str) -> None:
    """Drop `name`, ending the connections a test left open to it (FORCE)."""
    with pg_connect() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    """The bootstrap address of a broker that has answered an admin request."""
    address = kafka_bootstrap_address()
    host, _, port = address.split(",")[0].rpartition(":")
    try:
        # A refused connection is reported at once instead of after the client's retries.
        socket.create_connection((host, int(port)), timeout=3).close()
        admin = KafkaAdminClient(
            bootstrap_servers=address, client_id="landun-tests-probe", request_timeout_ms=10_000
        )
        try:
            admin.list_topics()
        finally:
            admin.close()
    except (KafkaError, OSError) as exc:
        pytest.fail(f"Kafka is not answering on {address} ({exc!r}); {HOW_TO_START}", pytrace=False)
    return address


@pytest.fixture(scope="session")
def kafka_admin(kafka_bootstrap: str) -> Iterator[KafkaAdminClient]:
    """An admin client on the test broker."""
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap, client_id="landun-tests")
    yield admin
    admin.close()


@pytest.fixture
def topic_name(kafka_admin: KafkaAdminClient) -> Iterator[str]:
    """A fresh topic name for one test; the topic is deleted afterwards if the test created it."""
    name = f"landun.test.{uuid.uuid4().hex[:12]}"
    yield name
    if name in kafka_admin.list_topics():
        kafka_admin.delete_topics([name])


@pytest.fixture(scope="session")
def redis_client() -> Iterator[redis.Redis]:
    """A client on the test Redis server that has answered PING."""
    host, port = redis_address()
    client = redis.Redis(host=host, port=port, socket_timeout=5, decode_responses=True)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.fail(
            f"Redis is not answering on {host}:{port} ({exc!r}); {HOW_TO_START}", pytrace=False
        )
    yield client
    client.close()


@pytest.fixture
def redis_prefix(redis_client: redis.Redis) -> Iterator[str]:
    """A key prefix owned by one test; its keys are deleted afterwards."""
    prefix = f"landun:test:{uuid.uuid4().hex[:12]}:"
    yield prefix
    keys = list(redis_client.scan_iter(match=prefix + "*"))
    if keys:
        redis_client.delete(*keys)


@pytest.fixture(scope="session")
def pg_admin_url() -> str:
    """The SQLAlchemy URL of the database `landun` as role landun, once PostgreSQL has answered.

    landun is not a superuser; it may create databases (the `database_url` fixture does).
    """
    host, port = pg_address()
    try:
        with pg_connect() as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        pytest.fail(
            f"PostgreSQL is not answering as role landun on {host}:{port} ({exc!r}); "
            + HOW_TO_START,
            pytrace=False,
        )
    return pg_url("landun")


@pytest.fixture
def database_url(pg_admin_url: str) -> Iterator[str]:
    """The SQLAlchemy URL of a fresh, empty database owned by landun, dropped after the test.

    Each test gets its own database, so tests may create tables, run migrations and commit freely
    without seeing each other, also when several test runs share the server.
    """
    name = create_test_database()
    try:
        yield pg_url(name)
    finally:
        drop_test_database(name)
