"""Accounts, reference records, trips and the outbox of the reference topics.

Revision ID: 0001
Revises:
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TSTZ = postgresql.TIMESTAMP(timezone=True)
IDENT = sa.Text(collation="C")


def _now(name: str) -> sa.Column:
    return sa.Column(name, TSTZ, nullable=False, server_default=sa.func.now())


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("username", IDENT, nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("district", sa.Text()),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("display_name", sa.Text(), nullable=False, server_default=""),
        sa.Column("disabled", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("generation", sa.Integer(), nullable=False, server_default=sa.text("0")),
        _now("created_at"),
        _now("updated_at"),
        sa.PrimaryKeyConstraint("username", name="pk_users"),
        sa.CheckConstraint(
            "role IN ('admin', 'city', 'district', 'enforcement', 'viewer')",
            name=op.f("ck_users_role"),
        ),
    )
    op.create_table(
        "reference_records",
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("id", IDENT, nullable=False),
        sa.Column("body", postgresql.JSONB(), nullable=False),
        _now("updated_at"),
        sa.PrimaryKeyConstraint("kind", "id", name="pk_reference_records"),
        sa.CheckConstraint(
            "kind IN ('fences', 'vehicles', 'permits', 'contracts')",
            name=op.f("ck_reference_records_kind"),
        ),
    )
    op.create_table(
        "trips",
        sa.Column("id", IDENT, nullable=False),
        sa.Column("vehicle", sa.Text()),
        sa.Column("ts_ms", sa.BigInteger()),
        sa.Column("body", postgresql.JSONB(), nullable=False),
        _now("updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_trips"),
    )
    op.create_index("ix_trips_vehicle_ts_ms", "trips", ["vehicle", sa.text("ts_ms DESC")])
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("value", sa.LargeBinary()),
        _now("created_at"),
        sa.Column("sent_at", TSTZ),
        sa.PrimaryKeyConstraint("id", name="pk_outbox"),
        sa.CheckConstraint("topic IN ('fences', 'registry')", name=op.f("ck_outbox_topic")),
    )
    op.create_index(
        "ix_outbox_unsent", "outbox", ["id"], postgresql_where=sa.text("sent_at IS NULL")
    )


def downgrade() -> None:
    for table in ("outbox", "trips", "reference_records", "users"):
        op.drop_table(table)
