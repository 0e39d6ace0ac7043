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
# Server-side limits of every session (``connect``'s defaults). Every alert write and case
# transition takes the one row of ``feed_head``: a client that stalls holding it must not stall
# the others for longer than these. A timeout is answered like an outage (``api.db.errors``).
LOCK_TIMEOUT_S = 5.0  # waiting for a lock (a row, a table, an advisory lock)
STATEMENT_TIMEOUT_S = 15.0  # one statement
IDLE_IN_TRANSACTION_TIMEOUT_S = 60.0  # a session idle inside a transaction is terminated
# libpq's TCP keepalives: a dead server, client or network is noticed in about a minute, not
# after the OS's two hours (``tcp_user_timeout``, ms: data unacknowledged that long fails).
KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
    "tcp_user_timeout": 60_000,
}


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
    url: str | URL,
    pool_size: int = 10,
    max_overflow: int = 20,
    pool_timeout_s: float = 10.0,
    *,
    lock_timeout_s: float | None = LOCK_TIMEOUT_S,
    statement_timeout_s: float | None = STATEMENT_TIMEOUT_S,
    idle_in_transaction_timeout_s: float | None = IDLE_IN_TRANSACTION_TIMEOUT_S,
) -> Engine:
    """An engine with a connection pool on the database at ``url``.

    Connections are checked before use (``pool_pre_ping``: one dropped by a restart of the server
    is replaced, not handed out) and give up after ``CONNECT_TIMEOUT_S`` seconds. Each session
    sets ``lock_timeout``, ``statement_timeout`` and ``idle_in_transaction_session_timeout`` to
    the given seconds (None or 0: no limit) and uses TCP keepalives (``KEEPALIVES``); an ``options``
    of the URL comes after these, so it wins. JSON columns are encoded and decoded with orjson.
    Nothing is connected until the engine is first used.
    """
    parsed = database_url(url)
    limits = {
        "lock_timeout": lock_timeout_s,
        "statement_timeout": statement_timeout_s,
        "idle_in_transaction_session_timeout": idle_in_transaction_timeout_s,
    }
    options = [f"-c {name}={_ms(seconds)}" for name, seconds in limits.items()]
    if isinstance(parsed.query.get("options"), str):
        options.append(parsed.query["options"])
    return create_engine(
        parsed,
        pool_pre_ping=True,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=pool_timeout_s,
        connect_args={
            "connect_timeout": CONNECT_TIMEOUT_S,
            "options": " ".join(options),
            **KEEPALIVES,
        },
        json_serializer=lambda value: orjson.dumps(value).decode(),
        json_deserializer=orjson.loads,
    )


def _ms(seconds: float | None) -> int:
    """A timeout setting in milliseconds; 0 (PostgreSQL's "no limit") for None or 0."""
    return max(1, round(seconds * 1000)) if seconds else 0
