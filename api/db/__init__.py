"""PostgreSQL, the system of record: accounts, reference data (with its outbox to Kafka), trips,
every alert version, cases and their append-only audit, and the alert feed.

SQLAlchemy 2 Core over psycopg 3, synchronous: the API's routes are plain ``def`` run in a thread
pool, so each call takes a pooled connection for one short transaction. ``schema`` holds the
tables, ``migrations`` the Alembic revisions written from it (``landun db upgrade``), and
``alerts``, ``records``, ``users`` the stores that implement the ports of ``api.ports``.
"""

from __future__ import annotations

import orjson
from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import URL, make_url

CONNECT_TIMEOUT_S = 3  # an outage shows within seconds, not after the OS's TCP timeout
DRIVER = "postgresql+psycopg"


def database_url(url: str | URL) -> URL:
    """``url`` with the psycopg 3 driver (``postgresql://`` and ``postgres://`` accepted).

    >>> database_url("postgresql://landun@127.0.0.1/landun").drivername
    'postgresql+psycopg'
    """
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername=DRIVER)
    return parsed


def connect(
    url: str | URL, pool_size: int = 10, max_overflow: int = 20, pool_timeout_s: float = 10.0
) -> Engine:
    """An engine with a connection pool on the database at ``url``.

    Connections are checked before use (``pool_pre_ping``: one dropped by a restart of the server
    is replaced, not handed out) and give up after ``CONNECT_TIMEOUT_S`` seconds. JSON columns
    are encoded and decoded with orjson. Nothing is connected until the engine is first used.
    """
    return create_engine(
        database_url(url),
        pool_pre_ping=True,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=pool_timeout_s,
        connect_args={"connect_timeout": CONNECT_TIMEOUT_S},
        json_serializer=lambda value: orjson.dumps(value).decode(),
        json_deserializer=orjson.loads,
    )
