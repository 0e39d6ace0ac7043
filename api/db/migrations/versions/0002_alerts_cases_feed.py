"""Alerts and every version of them, cases with their append-only audit, the alert feed.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TSTZ = postgresql.TIMESTAMP(timezone=True)
IDENT = sa.Text(collation="C")
JSONB = postgresql.JSONB()
STATES = "state IN ('open', 'dispatched', 'handled', 'closed', 'dismissed')"
APPEND_ONLY = ("alert_versions", "case_audit")

REFUSE = """
CREATE FUNCTION landun_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'rows of this table are evidence; record a new row instead';
END
$$
"""


def _now(name: str) -> sa.Column:
    return sa.Column(name, TSTZ, nullable=False, server_default=sa.func.now())


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", IDENT, nullable=False),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("vehicle", sa.Text(), nullable=False),
        sa.Column("district", sa.Text()),
        sa.Column("severity", sa.Text(), nullable=False),
        sa.Column("ts_ms", sa.BigInteger(), nullable=False),
        sa.Column("ended_ts_ms", sa.BigInteger()),
        sa.Column("version", sa.Text(), nullable=False),
        sa.Column("body", JSONB, nullable=False),
        _now("updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_alerts"),
    )
    op.create_index("ix_alerts_ts_ms", "alerts", [sa.text("ts_ms DESC"), sa.text("id DESC")])
    for column in ("district", "vehicle", "type"):
        op.create_index(f"ix_alerts_{column}_ts_ms", "alerts", [column, sa.text("ts_ms DESC")])
    op.create_table(
        "alert_versions",
        sa.Column("alert_id", IDENT, nullable=False),
        sa.Column("version", sa.Text(), nullable=False),
        sa.Column("body", JSONB, nullable=False),
        _now("received_at"),
        sa.PrimaryKeyConstraint("alert_id", "version", name="pk_alert_versions"),
        sa.ForeignKeyConstraint(["alert_id"], ["alerts.id"], name="fk_alert_versions_alert_id"),
    )
    _cases()
    _feed()
    op.execute(REFUSE)
    for table in APPEND_ONLY:
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION landun_append_only()"
        )
        # Also from the owner (the role that migrates, often the API's): a second barrier.
        op.execute(f"REVOKE UPDATE, DELETE, TRUNCATE ON {table} FROM PUBLIC, CURRENT_USER")


def _cases() -> None:
    op.create_table(
        "cases",
        sa.Column("alert_id", IDENT, nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        _now("updated_at"),
        sa.PrimaryKeyConstraint("alert_id", name="pk_cases"),
        sa.ForeignKeyConstraint(["alert_id"], ["alerts.id"], name="fk_cases_alert_id"),
        sa.CheckConstraint(STATES, name=op.f("ck_cases_state")),
    )
    op.create_index("ix_cases_state", "cases", ["state"])
    op.create_table(
        "case_audit",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("alert_id", IDENT, nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("at", TSTZ, nullable=False),
        sa.Column("note", sa.Text(), nullable=False, server_default=""),
        _now("recorded_at"),
        sa.PrimaryKeyConstraint("id", name="pk_case_audit"),
        sa.ForeignKeyConstraint(["alert_id"], ["cases.alert_id"], name="fk_case_audit_alert_id"),
        sa.CheckConstraint(STATES, name=op.f("ck_case_audit_state")),
    )
    op.create_index("ix_case_audit_alert_id", "case_audit", ["alert_id", "id"])


def _feed() -> None:
    op.create_table(
        "feed_head",
        sa.Column("id", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_feed_head"),
        sa.CheckConstraint("id = 1", name=op.f("ck_feed_head_id")),
    )
    op.execute("INSERT INTO feed_head (id, seq) VALUES (1, 0)")
    op.create_table(
        "feed_events",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("alert_id", IDENT, nullable=False),
        sa.Column("body", JSONB, nullable=False),
        _now("at"),
        sa.PrimaryKeyConstraint("seq", name="pk_feed_events"),
        sa.ForeignKeyConstraint(["alert_id"], ["alerts.id"], name="fk_feed_events_alert_id"),
        sa.CheckConstraint("kind IN ('alert', 'case')", name=op.f("ck_feed_events_kind")),
    )


def downgrade() -> None:
    for table in ("feed_events", "feed_head", "case_audit", "cases", "alert_versions", "alerts"):
        op.drop_table(table)
    op.execute("DROP FUNCTION landun_append_only()")
