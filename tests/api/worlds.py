"""One API world on the memory stores or on the real ones, for the tests that run the same table
on both (scope bodies, counters, vehicle search, case forms). Each test file keeps its own seed
data and passes it in; the wiring lives here once (issue 13: it had been copied into each file).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
import redis
from fastapi.testclient import TestClient

from api.app import create_app
from api.memory import memory_ports
from api.settings import Settings
from tests.api.conftest import Clock, make_settings, make_users

STORES = ("memory", "real")


def real_ports(ports, clock) -> tuple[object, list]:
    """Swap the memory ports for the production adapters: Redis (a key prefix of its own) for
    live positions and the bus, a fresh migrated PostgreSQL database for the rest. Fails, never
    skips, when a service is down (`make services`)."""
    from api.db import connect
    from api.db.alerts import PgAlertStore
    from api.db.migrate import upgrade
    from api.db.records import PgRecordStore
    from api.db.users import PgUserStore
    from stream.live.redis import RedisBus, RedisLiveStore
    from tests.services.conftest import (
        HOW_TO_START,
        create_test_database,
        drop_test_database,
        pg_url,
        redis_address,
    )

    host, port = redis_address()
    url = f"redis://{host}:{port}/0"
    r = redis.Redis.from_url(url, socket_timeout=10)
    try:
        r.ping()
    except redis.RedisError as exc:
        pytest.fail(f"Redis is not answering on {url} ({exc!r}); {HOW_TO_START}", pytrace=False)
    prefix = f"lsb{uuid.uuid4().hex[:10]}"
    name = create_test_database()
    upgrade(pg_url(name))
    engine = connect(pg_url(name))
    ports.live = RedisLiveStore(r, prefix)
    ports.bus = RedisBus(r, url, prefix)
    ports.alerts = PgAlertStore(engine, clock=clock)
    for kind in ("trips", "fences", "vehicles", "permits", "contracts"):
        setattr(ports, kind, PgRecordStore(engine, kind))
    ports.users = PgUserStore(engine)
    for user in make_users():
        ports.users.add(user)

    def close() -> None:
        engine.dispose()
        drop_test_database(name)
        keys = list(r.scan_iter(f"{prefix}:*", count=1000))
        if keys:
            r.delete(*keys)
        r.close()

    return ports, [close]


@contextmanager
def world_on(
    store: str,
    seed: Callable[[object], None],
    *,
    clock: Clock | None = None,
    settings: Settings | None = None,
) -> Iterator[tuple]:
    """The API on ``store`` (``"memory"`` or ``"real"``), seeded by ``seed(app)`` before the
    client starts; yields ``(app, client)`` and drops the real stores' database and keys after.

    Parameters
    ----------
    store : str
        One of `STORES`.
    seed : callable
        Fills the app's ports and feed with the test file's own world.
    clock : Clock, optional
        The wall clock (default: a fresh `Clock`).
    settings : Settings, optional
        Default: `make_settings()`.
    """
    clock = clock or Clock()
    ports, closers = memory_ports(make_users(), clock=clock), []
    if store == "real":
        ports, closers = real_ports(ports, clock)
    app = create_app(settings or make_settings(), ports, clock)
    try:
        seed(app)
        with TestClient(app) as client:
            yield app, client
    finally:
        for close in closers:
            close()
