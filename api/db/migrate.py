"""Schema migrations with Alembic's own command API: ``upgrade(url)`` and ``is_current(url)``.

The revisions live in ``api/db/migrations/versions`` (installed with the package); the API and
the alert sink call :func:`upgrade` at start-up when :func:`is_current` is false, operators run
``landun db upgrade``. Concurrent upgrades wait for each other (an advisory lock in env.py).
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from api.db import connect
from api.db.errors import translated

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(url: str) -> Config:
    """An Alembic configuration of landun's migrations on the database at ``url``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["url"] = url  # not a main option: '%' in a password would be interpolated
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database at ``url`` to ``revision`` (default: the newest).

    Raises
    ------
    ServiceUnavailable
        PostgreSQL cannot be reached. Operator action: start it, check LANDUN_DATABASE_URL.
    alembic.util.CommandError
        The database carries a revision this code does not know (it was migrated by a newer
        landun). Operator action: run the newer landun, or restore the matching backup.
    """
    with translated("schema"):
        command.upgrade(alembic_config(url), revision)


def heads() -> set[str]:
    """The newest revision(s) of this code."""
    return set(ScriptDirectory.from_config(alembic_config("")).get_heads())


def current(url: str) -> set[str]:
    """The revision(s) the database at ``url`` is at (empty for an empty database).

    Raises
    ------
    ServiceUnavailable
        PostgreSQL cannot be reached.
    """
    engine = connect(url, pool_size=1, max_overflow=0)
    try:
        with translated("schema"), engine.connect() as conn:
            return set(MigrationContext.configure(conn).get_current_heads())
    finally:
        engine.dispose()


def is_current(url: str) -> bool:
    """True when the database at ``url`` is at this code's newest revision."""
    return current(url) == heads()
