"""Migrations: from an empty database and from the previous revision with data in it, to a
schema equal to ``api.db.schema``; concurrent upgrades; `landun db`."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import insert, text

from api.db import connect
from api.db.alerts import PgAlertStore, alert_columns
from api.db.migrate import current, heads, is_current, upgrade
from api.db.records import PgRecordStore
from api.db.schema import alerts as alerts_table
from api.db.schema import metadata
from api.db.users import PgUserStore
from api.security import Role, User
from landun.cli import main as landun
from stream.live.errors import ServiceUnavailable
from tests.api.conftest import LX, alert, fence_feature

UNREACHABLE = "postgresql+psycopg://landun@127.0.0.1:1/landun"


def schema_differences(url: str) -> list:
    """Alembic's differences between the database and ``api.db.schema``, plus the columns'
    collations (which Alembic does not compare)."""
    engine = connect(url)
    try:
        with engine.connect() as conn:
            found = compare_metadata(MigrationContext.configure(conn), metadata)
            collations = conn.execute(
                text(
                    "SELECT table_name, column_name, collation_name FROM information_schema.columns"
                    " WHERE table_schema = 'public' AND collation_name IS NOT NULL"
                )
            ).all()
    finally:
        engine.dispose()
    wanted = {
        (table.name, column.name, column.type.collation)
        for table in metadata.tables.values()
        for column in table.columns
        if getattr(column.type, "collation", None)
    }
    return found + sorted(wanted ^ {tuple(row) for row in collations})


def test_upgrade_from_empty_gives_the_schema_of_the_code(database_url):
    assert current(database_url) == set() and not is_current(database_url)
    upgrade(database_url)
    assert current(database_url) == heads() == {"0003"}
    assert is_current(database_url)
    assert schema_differences(database_url) == []


def test_upgrade_is_idempotent(database_url):
    upgrade(database_url)
    upgrade(database_url)
    assert is_current(database_url)


def test_upgrade_from_the_previous_revision_keeps_the_data(database_url):
    upgrade(database_url, "0001")
    assert current(database_url) == {"0001"} and not is_current(database_url)
    engine = connect(database_url)
    try:
        users, fences = PgUserStore(engine), PgRecordStore(engine, "fences")
        users.add(User("alice", Role.ADMIN, None, "scrypt$x"))
        fences.put(fence_feature("site-lx", "site", LX))
        PgRecordStore(engine, "trips").put({"id": "T-1", "vehicle": "LX-1"})
        upgrade(database_url)
        assert users.get("alice") == User("alice", Role.ADMIN, None, "scrypt$x")
        assert fences.list() == [fence_feature("site-lx", "site", LX)]
        assert PgRecordStore(engine, "trips").get("T-1") == {"id": "T-1", "vehicle": "LX-1"}
        with engine.connect() as conn:
            assert conn.scalar(text("SELECT count(*) FROM outbox WHERE sent_at IS NULL")) == 1
        assert PgAlertStore(engine).put(alert("A-1", "LX-1", LX)).seq == 1
    finally:
        engine.dispose()
    assert schema_differences(database_url) == []


def test_upgrade_to_the_case_forms_keeps_the_trail(database_url):
    """0002 -> 0003 (issue 13): audit rows written before the case forms keep their entries,
    without form fields, and a case moved after the upgrade keeps its form."""
    upgrade(database_url, "0002")
    engine = connect(database_url)
    try:
        store = PgAlertStore(engine)
        with engine.begin() as conn:  # an alert filed and dispatched by 0002's code
            conn.execute(insert(alerts_table).values(alert_columns(alert("A-1", "LX-1", LX))))
            conn.execute(text("INSERT INTO cases (alert_id, state) VALUES ('A-1', 'dispatched')"))
            for state, actor in (("open", "system"), ("dispatched", "city")):
                conn.execute(
                    text(
                        "INSERT INTO case_audit (alert_id, state, actor, at, note) "
                        "VALUES ('A-1', :state, :actor, now(), '')"
                    ),
                    {"state": state, "actor": actor},
                )
        upgrade(database_url)
        case = store.get("A-1")["case"]
        assert [set(e) for e in case["history"]] == [{"state", "by", "at", "note"}] * 2
        assert (case["state"], case["assignee"], case["deadline"]) == ("dispatched", None, None)
        moved = store.transition("A-1", "handled", "enforce", "2025-06-02T10:00:00+08:00", "ok")
        assert moved.alert["case"]["history"][-1]["note"] == "ok"
        after = store.get("A-1")["case"]
        assert [e["state"] for e in after["history"]] == ["open", "dispatched", "handled"]
    finally:
        engine.dispose()
    assert schema_differences(database_url) == []


# Imports first, then every process starts its upgrade at the same moment.
TOGETHER = """
import sys, time
from landun.cli import main
import api.db.migrate
time.sleep(max(0.0, float(sys.argv[1]) - time.time()))
sys.exit(main(["db", "upgrade", "--database", sys.argv[2]]))
"""


def test_concurrent_upgrades_wait_for_each_other(database_url):
    """Replicas starting together (processes: Alembic's context is process-wide)."""
    start = str(time.time() + 4)
    command = [sys.executable, "-c", TOGETHER, start, database_url]
    procs = [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        for _ in range(6)
    ]
    outputs = [p.communicate(timeout=120)[0].decode() for p in procs]
    assert [p.returncode for p in procs] == [0] * 6, outputs
    assert is_current(database_url)


def test_an_unreachable_database_is_an_outage():
    with pytest.raises(ServiceUnavailable) as caught:
        is_current(UNREACHABLE)
    assert caught.value.service == "postgresql"
    with pytest.raises(ServiceUnavailable):
        upgrade(UNREACHABLE)


def test_landun_db_upgrade(database_url, capsys, monkeypatch):
    monkeypatch.delenv("LANDUN_DATABASE_URL", raising=False)
    assert landun(["db", "current", "--database", database_url]) == 1
    assert landun(["db", "upgrade", "--database", database_url]) == 0
    assert "0003: current" in capsys.readouterr().out
    monkeypatch.setenv("LANDUN_DATABASE_URL", database_url)
    assert landun(["db", "current"]) == 0


def test_landun_db_without_a_database(capsys, monkeypatch):
    monkeypatch.delenv("LANDUN_DATABASE_URL", raising=False)
    assert landun(["db", "upgrade"]) == 2
    assert "LANDUN_DATABASE_URL" in capsys.readouterr().err


def test_landun_db_with_postgresql_down(capsys):
    assert landun(["db", "upgrade", "--database", UNREACHABLE]) == 1
    assert "postgresql is unavailable" in capsys.readouterr().err
