"""The tables of the system of record (SQLAlchemy Core). The Alembic revisions in
``migrations/versions`` were written from these definitions, and a test checks that a database
migrated to the head revision matches them.

Identifiers are ``TEXT COLLATE "C"``: they sort by code point, as the in-memory twins sort
them, whatever the database's locale. Times the system records itself (``created_at``,
``received_at``...) are ``timestamptz``; alert event times are epoch milliseconds (``ts_ms``),
as everywhere inside landun.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    Table,
    Text,
    false,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, TIMESTAMP

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",  # named after the column it checks
    "fk": "fk_%(table_name)s_%(column_0_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING)

ROLES = ("admin", "city", "district", "enforcement", "viewer")
REFERENCE_KINDS = ("fences", "vehicles", "permits", "contracts")
OUTBOX_TOPICS = ("fences", "registry")
CASE_STATES = ("open", "dispatched", "handled", "closed", "dismissed")
FEED_KINDS = ("alert", "case")


def _ident(name: str, **kwargs) -> Column:
    return Column(name, Text(collation="C"), **kwargs)


def _now(name: str) -> Column:
    return Column(name, TIMESTAMP(timezone=True), nullable=False, server_default=func.now())


def _one_of(column: str, values: tuple[str, ...]) -> CheckConstraint:
    listed = ", ".join(f"'{v}'" for v in values)
    return CheckConstraint(f"{column} IN ({listed})", name=column)


# --- revision 0001: accounts, reference data, trips, outbox ---------------------------------

users = Table(
    "users",
    metadata,
    _ident("username", primary_key=True),
    Column("role", Text, nullable=False),
    Column("district", Text),
    Column("password_hash", Text, nullable=False),
    Column("display_name", Text, nullable=False, server_default=""),
    Column("disabled", Boolean, nullable=False, server_default=false()),
    Column("generation", Integer, nullable=False, server_default=text("0")),
    _now("created_at"),
    _now("updated_at"),
    _one_of("role", ROLES),
)

reference_records = Table(
    "reference_records",
    metadata,
    Column("kind", Text, primary_key=True),
    _ident("id", primary_key=True),
    Column("body", JSONB, nullable=False),
    _now("updated_at"),
    _one_of("kind", REFERENCE_KINDS),
)

trips = Table(
    "trips",
    metadata,
    _ident("id", primary_key=True),
    Column("vehicle", Text),
    Column("ts_ms", BigInteger),  # the load (muck) or round start (kitchen) time, if known
    Column("body", JSONB, nullable=False),
    _now("updated_at"),
    Index("ix_trips_vehicle_ts_ms", "vehicle", text("ts_ms DESC")),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", BigInteger, Identity(always=True), primary_key=True),
    Column("topic", Text, nullable=False),
    Column("key", Text, nullable=False),
    Column("value", LargeBinary),  # NULL: a tombstone (the record was deleted)
    _now("created_at"),
    Column("sent_at", TIMESTAMP(timezone=True)),
    _one_of("topic", OUTBOX_TOPICS),
    Index("ix_outbox_unsent", "id", postgresql_where=text("sent_at IS NULL")),
)

# --- revision 0002: alerts, their versions, cases and their audit, the alert feed -----------

alerts = Table(
    "alerts",
    metadata,
    _ident("id", primary_key=True),
    Column("type", Text, nullable=False),
    Column("vehicle", Text, nullable=False),
    Column("district", Text),
    Column("severity", Text, nullable=False),
    Column("ts_ms", BigInteger, nullable=False),
    Column("ended_ts_ms", BigInteger),
    Column("version", Text, nullable=False),  # api.ports.alert_version of ``body``
    Column("body", JSONB, nullable=False),  # the current version, without its case
    _now("updated_at"),
    Index("ix_alerts_ts_ms", text("ts_ms DESC"), text("id DESC")),
    Index("ix_alerts_district_ts_ms", "district", text("ts_ms DESC")),
    Index("ix_alerts_vehicle_ts_ms", "vehicle", text("ts_ms DESC")),
    Index("ix_alerts_type_ts_ms", "type", text("ts_ms DESC")),
)

alert_versions = Table(
    "alert_versions",
    metadata,
    Column("alert_id", Text(collation="C"), ForeignKey("alerts.id"), primary_key=True),
    Column("version", Text, primary_key=True),
    Column("body", JSONB, nullable=False),
    _now("received_at"),
)

cases = Table(
    "cases",
    metadata,
    Column("alert_id", Text(collation="C"), ForeignKey("alerts.id"), primary_key=True),
    Column("state", Text, nullable=False),
    _now("updated_at"),
    _one_of("state", CASE_STATES),
    Index("ix_cases_state", "state"),
)

case_audit = Table(
    "case_audit",
    metadata,
    Column("id", BigInteger, Identity(always=True), primary_key=True),
    Column("alert_id", Text(collation="C"), ForeignKey("cases.alert_id"), nullable=False),
    Column("state", Text, nullable=False),
    Column("actor", Text, nullable=False),
    Column("at", TIMESTAMP(timezone=True), nullable=False),  # as the actor's request said
    Column("note", Text, nullable=False, server_default=""),
    _now("recorded_at"),  # the database's own clock
    _one_of("state", CASE_STATES),
    Index("ix_case_audit_alert_id", "alert_id", "id"),
    # revision 0003 (issue 13): what the case form gave, NULL when it gave nothing
    Column("assignee", Text),  # dispatched: the team or officer
    Column("deadline_ms", BigInteger),  # dispatched: epoch ms
    Column("reason", Text),  # dismissed: api.cases.REASONS code
)

feed_head = Table(
    "feed_head",
    metadata,
    Column("id", SmallInteger, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),  # the seq of the latest feed event
    CheckConstraint("id = 1", name="id"),
)

feed_events = Table(
    "feed_events",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("kind", Text, nullable=False),
    Column("alert_id", Text(collation="C"), ForeignKey("alerts.id"), nullable=False),
    Column("body", JSONB, nullable=False),  # the alert with its case at that moment
    _now("at"),
    _one_of("kind", FEED_KINDS),
)

# Tables whose rows, once written, are evidence: a trigger refuses UPDATE, DELETE and TRUNCATE.
APPEND_ONLY = ("alert_versions", "case_audit")
