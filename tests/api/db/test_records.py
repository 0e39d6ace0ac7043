"""The RecordStore contract, run against the in-memory twin and PostgreSQL alike (every kind)."""

from __future__ import annotations

import threading

import pytest

from api.db.records import PgRecordStore
from api.memory import MemoryRecordStore
from tests.api.conftest import LX, fence_feature, vehicle

KINDS = ("fences", "vehicles", "permits", "contracts", "trips")
# Code-point order, whatever the database's locale: digits, upper case, lower case, accents, CJK.
IDS = ["梁-1", "a-1", "Z-9", "é-3", "B-2", "10", "9"]


def sample(kind: str, record_id: str, version: int = 1) -> dict:
    if kind == "fences":
        return fence_feature(record_id, "site", LX) | {"properties": {"kind": "site", "v": version}}
    if kind == "vehicles":
        return vehicle(record_id, LX) | {"plate": f"苏B{version}"}
    if kind == "trips":
        return {
            "id": record_id,
            "vehicle": "LX-1",
            "status": "open",
            "load_ts": 1_748_779_200_000 + version,
        }
    return {"id": record_id, "site": "site-lx", "vehicles": ["LX-1"], "v": version}


@pytest.fixture(params=[(impl, kind) for impl in ("memory", "postgres") for kind in KINDS], ids=str)
def case(request):
    impl, kind = request.param
    if impl == "memory":
        return MemoryRecordStore(), kind
    return PgRecordStore(request.getfixturevalue("engine"), kind), kind


def test_put_get_list_in_id_order(case):
    store, kind = case
    for record_id in IDS:
        store.put(sample(kind, record_id))
    assert [r["id"] for r in store.list()] == sorted(IDS)
    assert store.list() == [sample(kind, i) for i in sorted(IDS)]
    assert store.get("é-3") == sample(kind, "é-3")


def test_put_replaces(case):
    store, kind = case
    store.put(sample(kind, "X-1"))
    store.put(sample(kind, "X-1", version=2))
    assert store.list() == [sample(kind, "X-1", version=2)]


def test_delete(case):
    store, kind = case
    store.put(sample(kind, "X-1"))
    assert store.delete("X-1") is True
    assert store.delete("X-1") is False
    assert store.get("X-1") is None
    assert store.list() == []


def test_create_inserts_only_a_new_id(case):
    store, kind = case
    assert store.create(sample(kind, "X-1")) is True
    assert store.create(sample(kind, "X-1", version=2)) is False
    assert store.create(sample(kind, "X-1")) is False  # even the same record
    assert store.list() == [sample(kind, "X-1")]
    store.put(sample(kind, "X-1", version=3))  # put still replaces
    assert store.delete("X-1") is True
    assert store.create(sample(kind, "X-1", version=4)) is True  # a deleted id is free again
    assert store.get("X-1") == sample(kind, "X-1", version=4)


def test_concurrent_creates_of_one_id_one_wins(case):
    store, kind = case
    parties = 8
    barrier = threading.Barrier(parties, timeout=30)
    results: dict[int, bool] = {}

    def create(version: int) -> None:
        barrier.wait()
        results[version] = store.create(sample(kind, "X-1", version))

    threads = [threading.Thread(target=create, args=(v,)) for v in range(parties)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    [winner] = [v for v, created in results.items() if created]
    assert len(results) == parties
    assert store.list() == [sample(kind, "X-1", winner)]


def test_unknown_ids(case):
    store, _ = case
    assert store.get("nope") is None
    assert store.delete("nope") is False


def test_kinds_do_not_mix(engine):
    permits, contracts = PgRecordStore(engine, "permits"), PgRecordStore(engine, "contracts")
    permits.put({"id": "X-1", "site": "s"})
    assert contracts.get("X-1") is None
    assert contracts.list() == []
    assert contracts.delete("X-1") is False
    assert permits.get("X-1") == {"id": "X-1", "site": "s"}


def test_an_unknown_kind_is_refused(engine):
    with pytest.raises(ValueError, match="unknown record kind"):
        PgRecordStore(engine, "alerts")
