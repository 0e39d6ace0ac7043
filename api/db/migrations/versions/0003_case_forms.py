"""The case forms (issue 13): each audit row keeps the assignee, deadline and dismissal reason it
was given (NULL when none; rows written before keep NULL, as their form had none).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

COLUMNS = (("assignee", sa.Text()), ("deadline_ms", sa.BigInteger()), ("reason", sa.Text()))


def upgrade() -> None:
    # Adding a nullable column writes no row: the append-only trigger (0002) is not involved.
    for name, kind in COLUMNS:
        op.add_column("case_audit", sa.Column(name, kind, nullable=True))


def downgrade() -> None:
    for name, _ in COLUMNS:
        op.drop_column("case_audit", name)
