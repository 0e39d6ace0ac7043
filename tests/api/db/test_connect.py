"""The session limits of ``api.db.connect``: a client stalled while holding the row of
``feed_head`` (which every alert write and case transition takes), a statement that runs too long
and a session left idle in a transaction are answered as an outage of ``postgresql`` (503, the
sink retries) instead of blocking every writer, the thread pool and the connection pool."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import text, update

from api.db import connect
from api.db.alerts import PgAlertStore
from api.db.errors import transaction
from api.db.schema import feed_head
from stream.live.errors import ServiceUnavailable
from tests.api.conftest import LX, alert

AT = "2025-06-15T23:10:00+08:00"
DISPATCH = {"assignee": "三中队", "deadline": "2025-06-16T08:00:00+08:00"}  # issue 13's form
JOIN_S = 30  # far above the lock timeouts below: only "it raised instead of blocking" is asserted


@pytest.fixture
def quick(database_url, engine):
    """An engine on the same database whose lock waits give up after 0.2 s."""
    eng = connect(database_url, lock_timeout_s=0.2)
    yield eng
    eng.dispose()


def setting(conn, name: str) -> str:
    return conn.scalar(text(f"SHOW {name}"))


def test_every_session_has_timeouts_and_tcp_keepalives(engine):
    with engine.connect() as conn:
        limits = [
            setting(conn, name)
            for name in ("lock_timeout", "statement_timeout", "idle_in_transaction_session_timeout")
        ]
        parameters = conn.connection.dbapi_connection.info.get_parameters()
    assert limits == ["5s", "15s", "1min"]
    assert parameters["keepalives"] == "1"
    assert {
        "keepalives_idle",
        "keepalives_interval",
        "keepalives_count",
        "tcp_user_timeout",
    } <= set(parameters)


def test_the_url_options_and_none_override_the_defaults(database_url, engine):
    eng = connect(
        f"{database_url}?options=-c%20statement_timeout%3D7000", idle_in_transaction_timeout_s=None
    )
    try:
        with eng.connect() as conn:
            assert setting(conn, "statement_timeout") == "7s"
            assert setting(conn, "idle_in_transaction_session_timeout") == "0"
            assert setting(conn, "lock_timeout") == "5s"
    finally:
        eng.dispose()


def attempt(call) -> tuple[threading.Thread, list]:
    """Run ``call`` in a thread; the list gets what it raised (None when it returned)."""
    outcome: list = []

    def run():
        try:
            call()
            outcome.append(None)
        except Exception as exc:  # noqa: BLE001 - the test inspects it
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def test_a_client_stalled_holding_the_feed_lock_is_a_503_not_a_hang(engine, quick, clock):
    store = PgAlertStore(quick, clock=clock)
    store.put(alert("A-1", "LX-1", LX))
    writes = {
        "put": lambda: store.put(alert("A-2", "LX-2", LX)),
        "transition": lambda: store.transition("A-1", "dispatched", "city", AT, "", DISPATCH),
    }
    outcomes = {}
    with engine.connect() as stalled:  # BEGIN; UPDATE feed_head ...; and no COMMIT
        stalled.execute(update(feed_head).where(feed_head.c.id == 1).values(seq=feed_head.c.seq))
        for name, call in writes.items():
            thread, outcome = attempt(call)
            thread.join(JOIN_S)
            outcomes[name] = (thread.is_alive(), outcome)
        stalled.rollback()  # lets a blocked write finish, so that the test ends either way
    for name, (blocked, outcome) in outcomes.items():
        assert not blocked, f"{name} blocked behind the feed_head lock"
        (raised,) = outcome
        assert isinstance(raised, ServiceUnavailable), (name, raised)
        assert raised.service == "postgresql"
        assert "lock timeout" in raised.detail
    # Nothing of the refused writes was kept; once the lock is free, they go through.
    assert store.get("A-2") is None and store.get("A-1")["case"]["state"] == "open"
    assert store.transition("A-1", "dispatched", "city", AT, "", DISPATCH).seq == 2


def test_a_statement_over_the_statement_timeout_is_a_503(database_url, engine):
    eng = connect(database_url, statement_timeout_s=0.2)
    try:
        with pytest.raises(ServiceUnavailable) as caught, transaction(eng) as conn:
            conn.execute(text("SELECT pg_sleep(20)"))
    finally:
        eng.dispose()
    assert caught.value.service == "postgresql"
    assert "statement timeout" in caught.value.detail


def test_a_session_left_idle_in_a_transaction_is_ended_and_answered_as_an_outage(
    database_url, engine
):
    eng = connect(database_url, idle_in_transaction_timeout_s=0.2)
    try:
        with pytest.raises(ServiceUnavailable) as caught, transaction(eng) as conn:
            conn.execute(text("SELECT 1"))
            time.sleep(3)  # the client stalls inside its transaction
            conn.execute(text("SELECT 1"))
        with transaction(eng) as conn:  # the pool replaced the ended session
            assert conn.scalar(text("SELECT 1")) == 1
    finally:
        eng.dispose()
    assert caught.value.service == "postgresql"
    assert "idle-in-transaction" in caught.value.detail
