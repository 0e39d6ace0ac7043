"""Fixtures of the system-of-record tests: a fresh PostgreSQL database per test migrated to the
head revision, an engine on it, and Kafka topics of a fresh namespace for the outbox relay.

Like tests/services, these fail (never skip) when PostgreSQL or Kafka is not up: run
`make services` (scripts/postgres.sh up for PostgreSQL alone).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from api.db import connect
from api.db.migrate import upgrade
from stream.kafka.topics import Topics, drop_namespace, ensure_topics
from tests.services.conftest import (  # noqa: F401 - fixtures used by this package's tests
    database_url,
    kafka_bootstrap,
    pg_admin_url,
)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:  # noqa: F811
    """An engine on a fresh database at the head revision."""
    upgrade(database_url)
    eng = connect(database_url)
    yield eng
    eng.dispose()


@pytest.fixture
def topics(kafka_bootstrap: str) -> Iterator[Topics]:  # noqa: F811
    """A fresh namespace with all its topics (one partition each); deleted afterwards."""
    t = Topics(f"ldb{uuid.uuid4().hex[:10]}")
    ensure_topics(kafka_bootstrap, t, 1)
    yield t
    drop_namespace(kafka_bootstrap, t.namespace)
