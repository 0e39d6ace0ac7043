"""What only PostgreSQL can show: the audit is append-only in the database itself, a
re-delivered version writes no row, nothing is half-written, and the feed's seq is gapless and in
commit order under concurrent writers."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from api.cases import CaseTransitionError
from api.db import alerts as pg_alerts
from api.db.alerts import PgAlertStore
from api.db.schema import alert_versions, case_audit, feed_events
from api.ports import RecordRejected
from tests.api.conftest import LX, alert

AT = "2025-06-15T23:10:00+08:00"
DISPATCH = {"assignee": "三中队", "deadline": "2025-06-16T08:00:00+08:00"}  # issue 13's form


@pytest.fixture
def store(engine, clock) -> PgAlertStore:
    return PgAlertStore(engine, clock=clock)


def count(engine, table) -> int:
    with engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(table))


def refused(engine, sql: str) -> str:
    """Run ``sql`` as the API's role; the error PostgreSQL answered with (fails if none)."""
    with pytest.raises(DBAPIError) as caught, engine.begin() as conn:
        conn.execute(text(sql))
    return str(caught.value.orig)


@pytest.mark.parametrize("table", ["case_audit", "alert_versions"])
def test_evidence_tables_refuse_update_delete_truncate(engine, store, table):
    store.put(alert("A-1", "LX-1", LX))
    store.transition("A-1", "dispatched", "city", AT, "", DISPATCH)
    rows = count(engine, case_audit), count(engine, alert_versions)
    column = "note = 'forged'" if table == "case_audit" else "body = '{}'"
    for sql in (
        f"UPDATE {table} SET {column}",
        f"DELETE FROM {table}",
        f"TRUNCATE {table} CASCADE",
    ):
        assert "permission denied" in refused(engine, sql)
    # Even after the owner grants itself the privileges back, the trigger refuses.
    with engine.begin() as conn:
        conn.execute(text(f"GRANT UPDATE, DELETE, TRUNCATE ON {table} TO CURRENT_USER"))
    for sql in (
        f"UPDATE {table} SET {column}",
        f"DELETE FROM {table}",
        f"TRUNCATE {table} CASCADE",
    ):
        assert "append-only" in refused(engine, sql)
    assert (count(engine, case_audit), count(engine, alert_versions)) == rows


def test_redelivered_versions_write_no_rows(engine, store):
    versions = [alert("A-1", "LX-1", LX), alert("A-1", "LX-1", LX, ended_ts=AT)]
    for _ in range(3):
        for version in versions:
            store.put(version)
    assert count(engine, alert_versions) == 2
    assert count(engine, feed_events) == 2
    assert count(engine, case_audit) == 1


def test_an_open_version_seen_only_after_the_ended_one_is_kept_as_evidence(engine, store):
    store.put(alert("A-1", "LX-1", LX, ended_ts=AT))
    assert store.put(alert("A-1", "LX-1", LX)) is None
    assert count(engine, alert_versions) == 2
    assert count(engine, feed_events) == 1


def test_a_transition_failing_midway_writes_nothing(engine, store, monkeypatch):
    store.put(alert("A-1", "LX-1", LX))
    before = store.get("A-1"), count(engine, case_audit), store.head()

    def crash(*args):
        raise RuntimeError("crashed after the audit row")

    monkeypatch.setattr(pg_alerts, "_log_event", crash)
    with pytest.raises(RuntimeError):
        store.transition("A-1", "dispatched", "city", AT, "", DISPATCH)
    assert (store.get("A-1"), count(engine, case_audit), store.head()) == before


def test_a_new_alert_failing_midway_writes_nothing(engine, store, monkeypatch):
    monkeypatch.setattr(pg_alerts, "_log_event", lambda *a: (_ for _ in ()).throw(RuntimeError()))
    with pytest.raises(RuntimeError):
        store.put(alert("A-1", "LX-1", LX))
    assert store.get("A-1") is None
    assert count(engine, case_audit) == count(engine, alert_versions) == 0


def test_a_put_and_a_transition_of_one_alert_never_interleave(store, monkeypatch):
    """Each feed event carries the alert and its case as they were at its seq: a put that has
    read the alert holds its case until it commits, so a transition waits for it."""
    store.put(alert("A-1", "LX-1", LX))
    inside, moved = threading.Event(), threading.Event()
    keep = pg_alerts._keep_version

    def slow_keep(conn, columns):
        inside.set()
        moved.wait(1.0)  # every chance for the transition to slip in, were it not locked out
        return keep(conn, columns)

    def move() -> None:
        store.transition("A-1", "dispatched", "city", AT, "", DISPATCH)
        moved.set()

    monkeypatch.setattr(pg_alerts, "_keep_version", slow_keep)
    putter = threading.Thread(target=store.put, args=(alert("A-1", "LX-1", LX, severity="low"),))
    putter.start()
    inside.wait(10)
    mover = threading.Thread(target=move)
    mover.start()
    putter.join(30)
    mover.join(30)
    events, _ = store.events_after(0, 10)
    assert [len(e.alert["case"]["history"]) for e in events] == [1, 1, 2]
    assert events[-1].alert == store.get("A-1")
    assert store.get("A-1")["severity"] == "low"


def test_two_officers_moving_one_case_at_once_cannot_both_succeed(engine, store, monkeypatch):
    store.put(alert("A-1", "LX-1", LX))
    inside, second_done = threading.Event(), threading.Event()
    move = pg_alerts.lifecycle.transition
    calls: list[str] = []

    def slow_move(case, to, by, at, note, form=None):
        calls.append(by)
        if len(calls) == 1:
            inside.set()
            second_done.wait(1.0)  # every chance for the second to slip in, were it not locked out
        return move(case, to, by, at, note, form)

    outcomes: dict[str, str] = {}

    def officer(name: str) -> None:
        try:
            store.transition("A-1", "dispatched", name, AT, "", DISPATCH)
            outcomes[name] = "moved"
        except CaseTransitionError:
            outcomes[name] = "refused"
        finally:
            if name == "second":
                second_done.set()

    monkeypatch.setattr(pg_alerts.lifecycle, "transition", slow_move)
    first = threading.Thread(target=officer, args=("first",))
    first.start()
    inside.wait(10)
    second = threading.Thread(target=officer, args=("second",))
    second.start()
    first.join(30)
    second.join(30)
    assert outcomes == {"first": "moved", "second": "refused"}
    assert count(engine, case_audit) == 2
    assert [e["by"] for e in store.get("A-1")["case"]["history"]] == ["system", "first"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"ts": "yesterday"}, "ts"),
        ({"ended_ts": "2025-06-01T20:00:00"}, "ended_ts"),
        ({"vehicle": 42}, "vehicle"),
        ({"type": None}, "type"),
        ({"evidence": {"note": "nul \x00 byte"}}, "alert"),
    ],
)
def test_a_field_postgresql_refuses_is_named(store, change, field):
    with pytest.raises(RecordRejected) as caught:
        store.put(alert("A-1", "LX-1", LX) | change)
    assert caught.value.field == field
    assert store.get("A-1") is None


def test_a_case_time_that_is_no_time_is_refused(store):
    store.put(alert("A-1", "LX-1", LX))
    with pytest.raises(RecordRejected) as caught:
        store.transition("A-1", "dispatched", "city", "soon", "", DISPATCH)
    assert caught.value.field == "at"
    assert store.get("A-1")["case"]["state"] == "open"


def test_case_times_come_back_in_beijing_time(store):
    store.put(alert("A-1", "LX-1", LX))
    event = store.transition("A-1", "dispatched", "city", "2025-06-15T15:10:00.5Z", "", DISPATCH)
    assert event.alert["case"]["history"][-1]["at"] == "2025-06-15T23:10:00.500+08:00"
    assert store.get("A-1") == event.alert


def test_seq_is_gapless_and_in_commit_order_under_concurrent_writers(engine, clock):
    """Writers put and move cases in parallel while a reader follows the feed as a websocket
    does (after the last seq it saw): it must see every seq, each exactly once, in order."""
    writers, per_writer = 6, 25
    done = threading.Event()
    seen: list[int] = []
    errors: list[BaseException] = []

    def write(n: int) -> None:
        store = PgAlertStore(engine, clock=clock)
        try:
            for i in range(per_writer):
                store.put(alert(f"A-{n}-{i}", f"V-{n}", LX, minute=i))
                if i % 3 == 0:
                    store.transition(f"A-{n}-{i}", "dispatched", f"w{n}", AT, "", DISPATCH)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    def read() -> None:
        store = PgAlertStore(engine, clock=clock)
        try:
            while not done.is_set() or seen[-1:] != [store.head()]:
                events, gap = store.events_after(seen[-1] if seen else 0, 50)
                assert not gap
                seen.extend(e.seq for e in events)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    reader = threading.Thread(target=read)
    reader.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done.set()
    reader.join(60)
    assert errors == []
    total = writers * (per_writer + len(range(0, per_writer, 3)))
    assert seen == list(range(1, total + 1))
    with engine.connect() as conn:
        assert conn.scalars(select(feed_events.c.seq).order_by(feed_events.c.seq)).all() == seen
