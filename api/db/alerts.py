"""Alerts, every version of them, their cases with the append-only audit, and the alert feed,
in PostgreSQL (``api.ports.AlertStore``).

- ``put`` is idempotent by ``(alert id, version)`` (``api.ports.alert_version``): a version
  received before changes nothing, an open version after the ended one is kept in
  ``alert_versions`` but never reopens the alert (``api.ports.supersedes``). A new alert gets its
  case, ``open`` by ``system``, and the case's first audit row, in the same transaction.
- ``transition`` follows ``api.cases.transition``; the case row is locked, the audit row and the
  feed event are written in the transaction that moves the case. ``case_audit`` refuses UPDATE,
  DELETE and TRUNCATE in the database itself.
- The feed's ``seq`` is taken from the one-row ``feed_head`` as the transaction's last statement
  (``UPDATE ... SET seq = seq + 1 RETURNING seq``): the row lock makes concurrent writers take
  numbers in commit order, and a rolled-back transaction gives its number back, so a client that
  resumes "after seq N" never misses an event nor sees a gap.

The case row is also each alert's mutex: ``put`` and ``transition`` lock it before reading the
alert, so a feed event always carries the alert and its case as they were at its ``seq``.
Times of the case history come back as ISO 8601 in Beijing time (``stream.eventtime.to_iso``).
Each audit row keeps what the case form gave (``assignee``, ``deadline_ms``, ``reason``: issue 13);
the case's own fields are derived from the history (``api.cases.from_history``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import JSON, BigInteger, Connection, Engine, cast, func, select, update
from sqlalchemy.dialects.postgresql import aggregate_order_by, insert

from api import cases as lifecycle
from api.db.errors import transaction
from api.db.schema import alert_versions, alerts, case_audit, cases, feed_events, feed_head
from api.ports import AlertEvent, AlertQuery, Record, RecordRejected, alert_version, supersedes
from stream.eventtime import parse_ts, to_iso

_entry = func.json_build_object(
    "state", case_audit.c.state,
    "by", case_audit.c.actor,
    "at_ms", cast(func.extract("epoch", case_audit.c.at) * 1000, BigInteger),
    "note", case_audit.c.note,
    "assignee", case_audit.c.assignee,
    "deadline", case_audit.c.deadline_ms,
    "reason", case_audit.c.reason,
)  # fmt: skip
HISTORY = (
    select(func.json_agg(aggregate_order_by(_entry, case_audit.c.id), type_=JSON))
    .where(case_audit.c.alert_id == alerts.c.id)
    .scalar_subquery()
)
# One statement, one snapshot: the alert and its whole case history.
ALERT_WITH_CASE = select(alerts.c.body, HISTORY.label("history"))


class PgAlertStore:
    """The alert store of the system of record.

    Parameters
    ----------
    engine : Engine
        From :func:`api.db.connect`, on a database at the head revision.
    clock : callable
        Wall clock in epoch seconds: when the system filed a new alert's case.

    Raises (every method)
    ---------------------
    ServiceUnavailable
        PostgreSQL cannot be reached (the API answers 503; the alert sink retries).
    RecordRejected
        PostgreSQL refused a field of the alert (the sink dead-letters it).
    """

    def __init__(self, engine: Engine, clock: Callable[[], float] = time.time):
        self._engine, self._clock = engine, clock

    def put(self, alert: Record) -> AlertEvent | None:
        body = {k: v for k, v in alert.items() if k != "case"}
        columns = alert_columns(body)
        with transaction(self._engine, "alert") as conn:
            inserted = conn.execute(
                insert(alerts).values(columns).on_conflict_do_nothing().returning(alerts.c.id)
            ).first()
            if inserted is not None:
                _keep_version(conn, columns)
                case = self._file_case(conn, columns["id"])
            else:
                case = self._update(conn, columns)
                if case is None:
                    return None
            return _log_event(conn, "alert", columns["id"], {**body, "case": case})

    def _file_case(self, conn: Connection, alert_id: str) -> Record:
        case = lifecycle.new_case(to_iso(int(self._clock() * 1000)))
        conn.execute(insert(cases).values(alert_id=alert_id, state=case["state"]))
        _audit(conn, alert_id, case["history"][-1])
        return case

    def _update(self, conn: Connection, columns: Record) -> Record | None:
        """Make ``columns`` the current version; its case, or None when it is not newer."""
        alert_id = columns["id"]
        _lock_case(conn, alert_id)
        current = _read(conn, alert_id)
        if not _keep_version(conn, columns) or not supersedes(columns["body"], current):
            return None
        conn.execute(
            update(alerts)
            .where(alerts.c.id == alert_id)
            .values({**columns, "updated_at": func.now()})
        )
        return current["case"]

    def get(self, alert_id: str) -> Record | None:
        with transaction(self._engine, "id") as conn:
            return _read(conn, alert_id)

    def query(self, q: AlertQuery) -> list[Record]:
        stmt = ALERT_WITH_CASE.join_from(alerts, cases, cases.c.alert_id == alerts.c.id)
        filters = {
            alerts.c.district: q.district,
            alerts.c.type: q.type,
            alerts.c.vehicle: q.vehicle,
            cases.c.state: q.state,
        }
        stmt = stmt.where(
            *(column == value for column, value in filters.items() if value is not None)
        )
        if q.since_ms is not None:
            stmt = stmt.where(alerts.c.ts_ms >= q.since_ms)
        if q.until_ms is not None:
            stmt = stmt.where(alerts.c.ts_ms <= q.until_ms)
        stmt = stmt.order_by(alerts.c.ts_ms.desc(), alerts.c.id.desc()).limit(q.limit)
        with transaction(self._engine, "query") as conn:
            return [_record(row) for row in conn.execute(stmt)]

    def transition(
        self, alert_id: str, to: str, by: str, at: str, note: str, form: Record | None = None
    ) -> AlertEvent:
        with transaction(self._engine, "case") as conn:
            if not _lock_case(conn, alert_id):
                raise KeyError(alert_id)
            alert = _read(conn, alert_id)
            case = lifecycle.transition(alert["case"], to, by, canonical_time(at), note, form)
            conn.execute(
                update(cases)
                .where(cases.c.alert_id == alert_id)
                .values(state=case["state"], updated_at=func.now())
            )
            _audit(conn, alert_id, case["history"][-1])
            return _log_event(conn, "case", alert_id, {**alert, "case": case})

    def head(self) -> int:
        with transaction(self._engine) as conn:
            return conn.scalar(select(feed_head.c.seq))

    def events_after(self, seq: int, limit: int) -> tuple[list[AlertEvent], bool]:
        query = (
            select(feed_events.c.seq, feed_events.c.kind, feed_events.c.body)
            .where(feed_events.c.seq > seq)
            .order_by(feed_events.c.seq)
            .limit(limit)
        )
        with transaction(self._engine) as conn:
            head = conn.scalar(select(feed_head.c.seq))
            oldest = conn.scalar(select(func.min(feed_events.c.seq)))
            events = [AlertEvent(row.seq, row.kind, row.body) for row in conn.execute(query)]
        oldest = head + 1 if oldest is None else oldest
        # A seq from the future means the store was rebuilt: the client must reload too.
        return events, seq + 1 < oldest or seq > head


def alert_columns(body: Record) -> Record:
    """The row of ``alerts`` for an alert without its case.

    Raises
    ------
    RecordRejected
        A time that is not ISO 8601 with an offset nor epoch ms, or a text field that is not
        a string.
    """
    row = {"id": str(body.get("id")), "version": alert_version(body), "body": body}
    for name in ("type", "vehicle", "district", "severity"):
        value = body.get(name)
        if value is not None and not isinstance(value, str):
            raise RecordRejected(name, f"must be a string, got {value!r:.60}")
        row[name] = value
    for name, column in (("ts", "ts_ms"), ("ended_ts", "ended_ts_ms")):
        value = body.get(name)
        try:
            row[column] = parse_ts(value) if value or name == "ts" else None
        except (TypeError, ValueError) as exc:
            raise RecordRejected(name, str(exc)) from None
    return row


def _keep_version(conn: Connection, columns: Record) -> bool:
    """Store the version; False when it was stored before (a re-delivery)."""
    values = {"alert_id": columns["id"], "version": columns["version"], "body": columns["body"]}
    stmt = insert(alert_versions).values(values).on_conflict_do_nothing()
    return conn.execute(stmt.returning(alert_versions.c.version)).first() is not None


def _lock_case(conn: Connection, alert_id: str) -> bool:
    query = select(cases.c.state).where(cases.c.alert_id == alert_id).with_for_update()
    return conn.execute(query).first() is not None


def _read(conn: Connection, alert_id: str) -> Record | None:
    row = conn.execute(ALERT_WITH_CASE.where(alerts.c.id == alert_id)).first()
    return None if row is None else _record(row)


def _record(row) -> Record:
    history = [_history_entry(e) for e in row.history]
    return {**row.body, "case": lifecycle.from_history(history)}


def _history_entry(row: Record) -> Record:
    """An audit row as a history entry: the form fields only where the form gave them (as
    ``api.cases.transition`` writes them)."""
    entry = {
        "state": row["state"],
        "by": row["by"],
        "at": to_iso(row["at_ms"]),
        "note": row["note"],
    }
    entry.update({k: row[k] for k in lifecycle.FORM_FIELDS if row.get(k) is not None})
    return entry


def canonical_time(at: str) -> str:
    """A case time as the store gives it back: ISO 8601 in Beijing time (``to_iso``).

    >>> canonical_time("2025-06-01T12:10:00Z")
    '2025-06-01T20:10:00+08:00'

    Raises
    ------
    RecordRejected
        ``at`` is neither ISO 8601 with an offset nor epoch milliseconds.
    """
    try:
        return to_iso(parse_ts(at))
    except (TypeError, ValueError) as exc:
        raise RecordRejected("at", str(exc)) from None


def _audit(conn: Connection, alert_id: str, entry: Record) -> None:
    at = datetime.fromtimestamp(parse_ts(entry["at"]) / 1000, UTC)
    values = {"state": entry["state"], "actor": entry["by"], "at": at, "note": entry["note"]}
    form = {"assignee": entry.get("assignee"), "deadline_ms": entry.get("deadline"),
            "reason": entry.get("reason")}  # fmt: skip
    conn.execute(case_audit.insert().values(alert_id=alert_id, **values, **form))


def _log_event(conn: Connection, kind: str, alert_id: str, record: Record) -> AlertEvent:
    """Append the feed event, numbered last in the transaction (gapless, in commit order)."""
    seq = conn.scalar(
        update(feed_head)
        .where(feed_head.c.id == 1)
        .values(seq=feed_head.c.seq + 1)
        .returning(feed_head.c.seq)
    )
    conn.execute(feed_events.insert().values(seq=seq, kind=kind, alert_id=alert_id, body=record))
    return AlertEvent(seq, kind, record)
