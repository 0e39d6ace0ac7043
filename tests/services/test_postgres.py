"""The development PostgreSQL of `make services` and the `database_url` fixture the tests use."""

from __future__ import annotations

import re
import socket

import psycopg
import pytest
import sqlalchemy

from tests.services.conftest import (
    create_test_database,
    drop_test_database,
    pg_address,
    pg_connect,
)

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
