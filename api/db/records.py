"""Reference records and trips in PostgreSQL (``api.ports.RecordStore``).

Fences, vehicles, permits and contracts are rows of ``reference_records``; each put, create or
delete also appends its Kafka record to the ``outbox`` in the same transaction (key and value
exactly as ``stream.kafka.reference.reference_records`` produces them), so a change is never
stored without being published nor published without being stored (``api.db.outbox`` relays it).
A create is insert-only (``ON CONFLICT DO NOTHING``) and queues its record only if it inserted.
The row is written before its outbox entry: the row lock orders concurrent writers of one id, so
their outbox ids, hence their order on the topic, follow their commit order.

Trips have their own table and no outbox (the engine produced them; Kafka already has them).
"""

from __future__ import annotations

import orjson
from sqlalchemy import Connection, Engine, delete, func, select
from sqlalchemy.dialects.postgresql import insert

from api.db.errors import transaction
from api.db.outbox import enqueue
from api.db.schema import REFERENCE_KINDS, reference_records, trips
from api.ports import Record
from api.vehicle_card import started_ms  # the card's trip start (one definition, issue 13)

KINDS = (*REFERENCE_KINDS, "trips")


def outbox_record(
    kind: str, record: Record | None, record_id: str
) -> tuple[str, str, bytes | None]:
    """``(topic kind, key, value)`` of a reference change, as ``reference_records`` makes them.

    >>> outbox_record("permits", None, "P-1")
    ('registry', 'permits/P-1', None)
    >>> outbox_record("fences", {"type": "Feature", "id": "f-1"}, "f-1")
    ('fences', 'f-1', b'{"type":"Feature","id":"f-1"}')
    """
    value = None if record is None else orjson.dumps(record)
    if kind == "fences":
        return "fences", record_id, value
    return "registry", f"{kind}/{record_id}", value


def write_reference(conn: Connection, kind: str, record_id: str, record: Record) -> None:
    """Insert or replace one reference record and queue its outbox entry, in the caller's
    transaction (``PgRecordStore.put``; ``landun ingest`` loads a whole file in one)."""
    stmt = insert(reference_records).values({"kind": kind, "id": record_id, "body": record})
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["kind", "id"],
            set_={"body": stmt.excluded.body, "updated_at": func.now()},
        )
    )
    enqueue(conn, *outbox_record(kind, record, record_id))


class PgRecordStore:
    """Records of one ``kind`` (``fences``, ``vehicles``, ``permits``, ``contracts``, ``trips``).

    Raises (every method)
    ---------------------
    ServiceUnavailable
        PostgreSQL cannot be reached (the API answers 503).
    RecordRejected
        PostgreSQL refused the record (the API answers 422 naming the field).
    """

    def __init__(self, engine: Engine, kind: str):
        if kind not in KINDS:
            raise ValueError(f"unknown record kind {kind!r}; kinds are {', '.join(KINDS)}")
        self._engine, self.kind = engine, kind
        self._table = trips if kind == "trips" else reference_records

    def _where(self, *clauses):
        if self._table is trips:
            return clauses
        return (reference_records.c.kind == self.kind, *clauses)

    def list(self) -> list[Record]:
        query = select(self._table.c.body).where(*self._where()).order_by(self._table.c.id)
        with transaction(self._engine) as conn:
            return list(conn.scalars(query))

    def get(self, record_id: str) -> Record | None:
        query = select(self._table.c.body).where(*self._where(self._table.c.id == record_id))
        with transaction(self._engine, "id") as conn:
            return conn.scalar(query)

    def put(self, record: Record) -> None:
        record_id = str(record["id"])
        with transaction(self._engine) as conn:
            if self._table is trips:
                _put_trip(conn, record_id, record)
                return
            write_reference(conn, self.kind, record_id, record)

    def create(self, record: Record) -> bool:
        record_id = str(record["id"])
        with transaction(self._engine) as conn:
            # RETURNING says whether the row was inserted (an INSERT's rowcount is not kept).
            if self._table is trips:
                stmt = insert(trips).values(_trip_values(record_id, record))
                stmt = stmt.on_conflict_do_nothing(index_elements=["id"]).returning(trips.c.id)
                return conn.execute(stmt).first() is not None
            values = {"kind": self.kind, "id": record_id, "body": record}
            stmt = (
                insert(reference_records)
                .values(values)
                .on_conflict_do_nothing(index_elements=["kind", "id"])
                .returning(reference_records.c.id)
            )
            if conn.execute(stmt).first() is None:
                return False  # the id exists: nothing written, nothing queued
            enqueue(conn, *outbox_record(self.kind, record, record_id))
            return True

    def delete(self, record_id: str) -> bool:
        stmt = delete(self._table).where(*self._where(self._table.c.id == record_id))
        with transaction(self._engine, "id") as conn:
            if conn.execute(stmt).rowcount == 0:
                return False
            if self._table is not trips:
                enqueue(conn, *outbox_record(self.kind, None, record_id))
            return True


def _trip_values(trip_id: str, trip: Record) -> dict:
    vehicle = trip.get("vehicle")
    return {
        "id": trip_id,
        "vehicle": None if vehicle is None else str(vehicle),
        "ts_ms": started_ms(trip),
        "body": trip,
    }


def _put_trip(conn: Connection, trip_id: str, trip: Record) -> None:
    stmt = insert(trips).values(_trip_values(trip_id, trip))
    excluded = stmt.excluded
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["id"],
            set_={
                "vehicle": excluded.vehicle,
                "ts_ms": excluded.ts_ms,
                "body": excluded.body,
                "updated_at": func.now(),
            },
        )
    )
