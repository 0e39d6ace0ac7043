"""Reference writes and their outbox entries: written together or not at all, with the key and
value that ``stream.kafka.reference.reference_records`` gives the compacted topics."""

from __future__ import annotations

import uuid

import orjson
import pytest
from sqlalchemy import select, text

from api.db import connect
from api.db.migrate import upgrade
from api.db.records import PgRecordStore
from api.db.schema import outbox, reference_records, trips
from api.db.users import PgUserStore
from api.ports import RecordRejected
from api.security import Role, User
from stream.kafka.reference import reference_records as topic_records
from tests.api.conftest import LX, fence_feature, vehicle
from tests.services.conftest import drop_test_database, pg_connect, pg_url

PERMIT = {
    "id": "P-1",
    "site": "site-lx",
    "vehicles": ["LX-1"],
    "terminals": [],
    "corridors": [],
    "valid_from": "2025-01-01",
    "valid_to": "2025-12-31",
    "hours": [],
}
CONTRACT = {"id": "C-1", "vehicle": "LX-2", "producers": [], "plants": []}


def queued(engine) -> list[tuple]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(outbox.c.topic, outbox.c.key, outbox.c.value).order_by(outbox.c.id)
        )
        return [(r.topic, r.key.encode(), r.value) for r in rows]


def stores(engine) -> dict[str, PgRecordStore]:
    return {k: PgRecordStore(engine, k) for k in ("fences", "vehicles", "permits", "contracts")}


def test_each_write_queues_the_topic_record_of_reference_records(engine):
    fence = fence_feature("site-lx", "site", LX)
    vehicles = [vehicle("LX-1", LX), vehicle("LX-2", LX, "kitchen")]
    registry = {"vehicles": vehicles, "permits": [PERMIT], "contracts": [CONTRACT]}
    by_kind = stores(engine)
    by_kind["fences"].put(fence)
    for section in ("vehicles", "permits", "contracts"):
        for item in registry[section]:
            by_kind[section].put(item)
    expected = list(topic_records({"type": "FeatureCollection", "features": [fence]}, registry))
    assert queued(engine) == expected


def test_a_delete_queues_a_tombstone_and_a_missed_delete_nothing(engine):
    by_kind = stores(engine)
    by_kind["fences"].put(fence_feature("f-1", "site", LX))
    by_kind["permits"].put(PERMIT)
    assert by_kind["fences"].delete("f-1") and by_kind["permits"].delete("P-1")
    assert not by_kind["fences"].delete("f-1")
    assert queued(engine)[2:] == [("fences", b"f-1", None), ("registry", b"permits/P-1", None)]


def test_trips_have_no_outbox(engine):
    store = PgRecordStore(engine, "trips")
    store.put({"id": "T-1", "vehicle": "LX-1", "load_ts": "2025-06-02T20:51:48+08:00"})
    store.delete("T-1")
    store.put({"id": "T-2", "vehicle": "LX-1", "start_ts": "not a time"})
    assert queued(engine) == []
    with engine.connect() as conn:
        assert conn.execute(select(trips.c.id, trips.c.vehicle, trips.c.ts_ms)).all() == [
            ("T-2", "LX-1", None)
        ]


def test_a_create_queues_its_record_only_when_it_inserts(engine):
    fences, permits = PgRecordStore(engine, "fences"), PgRecordStore(engine, "permits")
    first = fence_feature("f-1", "site", LX)
    assert fences.create(first) and permits.create(PERMIT)
    assert not fences.create(fence_feature("f-1", "depot", LX))
    assert not permits.create(PERMIT | {"site": "elsewhere"})
    assert queued(engine) == [
        ("fences", b"f-1", orjson.dumps(first)),
        ("registry", b"permits/P-1", orjson.dumps(PERMIT)),
    ]
    assert fences.get("f-1") == first and permits.get("P-1") == PERMIT


@pytest.fixture
def outbox_broken(engine):
    """A trigger that makes every outbox insert fail, as a crash between the two writes would."""
    with engine.begin() as conn:
        conn.execute(
            text(
                "CREATE FUNCTION broken() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'outbox broken' USING ERRCODE = 'check_violation'; END $$"
            )
        )
        conn.execute(
            text(
                "CREATE TRIGGER broken BEFORE INSERT ON outbox "
                "FOR EACH ROW EXECUTE FUNCTION broken()"
            )
        )


def test_no_record_without_its_outbox_entry(engine, outbox_broken):
    by_kind = stores(engine)
    with pytest.raises(RecordRejected):
        by_kind["fences"].put(fence_feature("f-1", "site", LX))
    with pytest.raises(RecordRejected):
        by_kind["permits"].put(PERMIT)
    with pytest.raises(RecordRejected):
        by_kind["vehicles"].create(vehicle("LX-1", LX))
    assert by_kind["fences"].get("f-1") is None
    with engine.connect() as conn:
        assert conn.execute(select(reference_records)).all() == []


def test_no_delete_without_its_tombstone(engine):
    fences = PgRecordStore(engine, "fences")
    fences.put(fence_feature("f-1", "site", LX))
    with engine.begin() as conn:
        conn.execute(
            text("ALTER TABLE outbox ADD CONSTRAINT ck_outbox_value CHECK (value IS NOT NULL)")
        )
    with pytest.raises(RecordRejected) as caught:
        fences.delete("f-1")
    assert caught.value.field == "value"
    assert fences.get("f-1") == fence_feature("f-1", "site", LX)
    assert len(queued(engine)) == 1


def test_a_value_postgresql_refuses_is_rejected(engine):
    with pytest.raises(RecordRejected):
        PgRecordStore(engine, "permits").put({"id": "P-\x00", "site": "s"})
    assert queued(engine) == []


@pytest.fixture
def icu_engine(pg_admin_url):
    """An engine on a database whose default collation is ICU's root locale (not "C")."""
    name = f"landun_t_{uuid.uuid4().hex[:16]}"
    with pg_connect() as conn:
        conn.execute(
            f"CREATE DATABASE \"{name}\" TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'und'"
        )
    try:
        upgrade(pg_url(name))
        engine = connect(pg_url(name))
        yield engine
        engine.dispose()
    finally:
        drop_test_database(name)


def test_ids_sort_by_code_point_whatever_the_collation(icu_engine):
    ids = ["é-3", "a-1", "Z-9", "B-2", "10", "9"]
    permits, users = PgRecordStore(icu_engine, "permits"), PgUserStore(icu_engine)
    for record_id in ids:
        permits.put({"id": record_id})
        users.add(User(record_id, Role.VIEWER, None, "x"))
    assert [p["id"] for p in permits.list()] == sorted(ids)
    assert [u.username for u in users.list()] == sorted(ids)
