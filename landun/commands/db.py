"""`landun db`: the schema of the PostgreSQL system of record.

``landun db upgrade`` migrates the database to the newest revision of this code (Alembic; a
database that is already current is left as it is, and concurrent upgrades wait for each other).
``landun db current`` prints the database's revision and whether it is current. The API and the
alert sink also upgrade at start-up when the schema is behind.

The database is ``--database URL`` or, by default, LANDUN_DATABASE_URL
(``postgresql+psycopg://user:password@host:5432/landun``).
Exit codes: 0 done (``current``: the schema is current); 1 PostgreSQL unreachable, the migration
failed, or (``current``) the schema is behind; 2 no database URL.
"""

from __future__ import annotations

import argparse
import os
import sys

URL_VARIABLE = "LANDUN_DATABASE_URL"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `db` sub-command group."""
    p = subparsers.add_parser(
        "db",
        help="migrate the PostgreSQL schema (upgrade, current)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = p.add_subparsers(dest="action", required=True)
    for name, help_text in (
        ("upgrade", "migrate the database to the newest revision"),
        ("current", "print the database's revision; exit 1 when it is behind"),
    ):
        action = actions.add_parser(name, help=help_text)
        action.add_argument("--database", help=f"database URL (default ${URL_VARIABLE})")
        action.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from alembic.util import CommandError

    from api.db import migrate
    from stream.live.errors import ServiceUnavailable

    url = args.database or os.environ.get(URL_VARIABLE)
    if not url:
        return _fail(f"no database: pass --database URL or set {URL_VARIABLE}", 2)
    try:
        if args.action == "upgrade":
            migrate.upgrade(url)
        revisions, heads = migrate.current(url), migrate.heads()
    except ServiceUnavailable as exc:
        return _fail(f"{exc}; check that it is up and that the URL is right", 1)
    except CommandError as exc:
        return _fail(f"migration failed: {exc}", 1)
    state = "current" if revisions == heads else f"behind (newest: {', '.join(sorted(heads))})"
    print(f"database at revision {', '.join(sorted(revisions)) or 'none (empty)'}: {state}")
    return 0 if revisions == heads else 1


def _fail(message: str, code: int) -> int:
    print(f"landun db: {message}", file=sys.stderr)
    return code
