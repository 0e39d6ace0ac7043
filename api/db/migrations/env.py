"""Alembic's environment for landun: the database URL comes from the caller
(``api.db.migrate``), else ``LANDUN_DATABASE_URL``. Migrations of concurrent starters (two API
replicas) are serialised by an advisory lock, so the second finds the schema already current."""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import text

from api.db import connect, database_url
from api.db.schema import metadata

MIGRATION_LOCK = 0x6C616E64756E0002  # pg_advisory_xact_lock key of migrations ("landun" + 2)


def _url() -> str:
    config = context.config
    url = config.attributes.get("url") or os.environ.get("LANDUN_DATABASE_URL")
    if not url:
        raise RuntimeError("no database URL: pass one or set LANDUN_DATABASE_URL")
    return url


def run_offline() -> None:
    """``alembic upgrade --sql``: print the SQL instead of running it."""
    context.configure(
        url=database_url(_url()), target_metadata=metadata, literal_binds=True, as_sql=True
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    """Run the pending revisions in one transaction (PostgreSQL's DDL is transactional).

    Without a lock or statement timeout: a second starter waits for the first's migration, and a
    revision may rewrite a big table."""
    engine = connect(
        _url(), pool_size=1, max_overflow=0, lock_timeout_s=None, statement_timeout_s=None
    )
    try:
        with engine.connect() as connection:
            context.configure(connection=connection, target_metadata=metadata)
            with context.begin_transaction():
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK}
                )
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
