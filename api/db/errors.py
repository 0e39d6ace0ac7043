"""What PostgreSQL's failures mean to the API: an outage or a refused record.

Every store runs its statements inside :func:`transaction`, which turns the driver's errors into
the two the callers handle: :class:`~stream.live.errors.ServiceUnavailable` (``postgresql``: the
API answers 503, the alert sink retries) and :class:`~api.ports.RecordRejected` (the API answers
422 naming the field, the sink dead-letters the record). Anything else is a bug and propagates.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine
from sqlalchemy import exc as sa

from api.ports import RecordRejected
from stream.live.errors import ServiceUnavailable

SERVICE = "postgresql"
# SQLSTATE classes of an unreachable or overwhelmed server: connection exception, insufficient
# resources (too many connections, disk full), operator intervention (shutdown, starting up).
OUTAGE_CLASSES = ("08", "53", "57")
# A session limit of ``api.db.connect`` was reached: lock_not_available (lock_timeout, e.g. a
# client stalled while holding the row of ``feed_head``), query_canceled (statement_timeout),
# idle_in_transaction_session_timeout (the server ended a session left idle in a transaction).
# The statement may succeed when retried: answered like an outage, not as a bug.
TIMEOUT_STATES = ("55P03", "57014", "25P03")
DETAIL_CHARS = 300


@contextmanager
def transaction(engine: Engine, field: str = "record") -> Iterator[Connection]:
    """One transaction on a pooled connection, committed when the block ends without error.

    Parameters
    ----------
    engine : Engine
        From :func:`api.db.connect`.
    field : str
        The field named by a :class:`RecordRejected` when PostgreSQL does not say which one.

    Raises
    ------
    ServiceUnavailable
        PostgreSQL cannot be reached, the pool has no free connection, or a lock, statement or
        idle-in-transaction timeout of the session was reached (``api.db.connect``).
    RecordRejected
        A constraint or a value PostgreSQL refuses; nothing of the transaction was written.
    """
    with translated(field), engine.begin() as conn:
        yield conn


@contextmanager
def translated(field: str = "record") -> Iterator[None]:
    """Translate the driver's errors raised inside the block (see :func:`transaction`)."""
    try:
        yield
    except (sa.IntegrityError, sa.DataError) as exc:
        raise rejected(exc, field) from exc
    except (sa.OperationalError, sa.InterfaceError, sa.InternalError) as exc:
        if not is_outage(exc):
            raise
        raise ServiceUnavailable(SERVICE, _first_line(exc.orig)) from exc
    except sa.TimeoutError as exc:
        raise ServiceUnavailable(SERVICE, "no free connection in the pool") from exc


def is_outage(exc: sa.DBAPIError) -> bool:
    """True when ``exc`` says the server is unreachable, or a session timeout was reached,
    rather than the statement wrong."""
    state = getattr(exc.orig, "sqlstate", None)
    return (
        exc.connection_invalidated
        or state is None
        or state[:2] in OUTAGE_CLASSES
        or state in TIMEOUT_STATES
    )


def rejected(exc: sa.DBAPIError, field: str) -> RecordRejected:
    """The :class:`RecordRejected` of a refused write, naming the column when PostgreSQL does
    (a NOT NULL column, or a check constraint named after its column: ``ck_<table>_<column>``)."""
    diag = getattr(exc.orig, "diag", None)
    column = getattr(diag, "column_name", None)
    constraint = getattr(diag, "constraint_name", None) or ""
    table = getattr(diag, "table_name", None) or ""
    if not column and constraint.startswith(f"ck_{table}_"):
        column = constraint[len(f"ck_{table}_") :]
    return RecordRejected(column or field, _first_line(exc.orig))


def _first_line(error: BaseException | None) -> str:
    return (str(error).strip().splitlines() or [""])[0][:DETAIL_CHARS]
