"""The AlertStore contract, run against the in-memory twin and PostgreSQL alike: a difference
between them fails here."""

from __future__ import annotations

import pytest

from api.cases import CaseFormError, CaseTransitionError
from api.db.alerts import PgAlertStore
from api.memory import MemoryAlertStore
from api.ports import AlertQuery
from stream.eventtime import to_iso
from tests.api.conftest import LX, XS, alert

AT = "2025-06-15T23:10:00+08:00"
ENDED = "2025-06-01T20:30:00+08:00"
# The case forms (issue 13): what dispatching and dismissing need (test_case_forms.py).
DISPATCH = {"assignee": "三中队", "deadline": "2025-06-16T08:00:00+08:00"}
DEADLINE_MS = 1_750_032_000_000  # DISPATCH's deadline
FALSE_ALARM = {"reason": "false_alarm"}


@pytest.fixture(params=["memory", "postgres"])
def store(request, clock):
    if request.param == "memory":
        return MemoryAlertStore(clock=clock)
    return PgAlertStore(request.getfixturevalue("engine"), clock=clock)


def opened(aid: str = "A-1", **extra) -> dict:
    return alert(aid, "LX-1", LX, **{"ts": "2025-06-01T20:00:00+08:00"} | extra)


def test_a_new_alert_gets_an_open_case_filed_by_the_system(store, clock):
    event = store.put(opened())
    filed = {"state": "open", "by": "system", "at": to_iso(int(clock.now * 1000)), "note": ""}
    assert (event.seq, event.kind) == (1, "alert")
    case = {"state": "open", "history": [filed], "assignee": None, "deadline": None, "reason": None}
    assert event.alert == {**opened(), "case": case}
    assert store.get("A-1") == event.alert
    assert store.head() == 1


def test_a_version_put_again_changes_nothing(store):
    store.put(opened())
    store.transition("A-1", "dispatched", "city", AT, "", DISPATCH)
    before = store.get("A-1")
    assert store.put(opened()) is None
    assert store.put({**opened(), "case": {"state": "open", "history": []}}) is None
    assert store.get("A-1") == before
    assert store.head() == 2


def test_a_new_version_keeps_the_case(store):
    store.put(opened())
    store.transition("A-1", "dispatched", "city", AT, "on it", DISPATCH)
    event = store.put(opened(ended_ts=ENDED))
    assert (event.seq, event.kind, event.alert["ended_ts"]) == (3, "alert", ENDED)
    assert event.alert["case"] == store.get("A-1")["case"]
    assert [e["state"] for e in event.alert["case"]["history"]] == ["open", "dispatched"]
    assert (event.alert["case"]["assignee"], event.alert["case"]["deadline"]) == (
        "三中队",
        DEADLINE_MS,
    )


def test_an_open_version_after_the_ended_one_never_reopens(store):
    store.put(opened())
    store.put(opened(ended_ts=ENDED))
    assert store.put(opened()) is None
    assert store.get("A-1")["ended_ts"] == ENDED
    assert store.head() == 2


def test_an_older_version_delivered_again_is_not_applied_again(store):
    store.put(opened())
    store.put(opened(severity="critical"))
    assert store.put(opened()) is None
    assert store.get("A-1")["severity"] == "critical"
    assert store.head() == 2


def test_an_open_version_first_seen_after_the_ended_one_is_refused_for_good(store):
    store.put(opened(ended_ts=ENDED))
    assert store.put(opened()) is None
    assert store.put(opened()) is None
    assert store.get("A-1")["ended_ts"] == ENDED


def test_transitions_append_to_the_history(store):
    store.put(opened())
    event = store.transition("A-1", "dismissed", "liangxi", AT, "  GPS drift  ", FALSE_ALARM)
    assert (event.seq, event.kind) == (2, "case")
    assert (event.alert["case"]["state"], event.alert["case"]["reason"]) == (
        "dismissed",
        "false_alarm",
    )
    assert event.alert["case"]["history"][-1] == {
        "state": "dismissed",
        "by": "liangxi",
        "at": AT,
        "note": "GPS drift",
        "reason": "false_alarm",
    }
    assert store.get("A-1") == event.alert
    assert {k: v for k, v in event.alert.items() if k != "case"} == opened()


def test_a_refused_transition_writes_nothing(store):
    store.put(opened())
    before = store.get("A-1")
    with pytest.raises(CaseTransitionError):
        store.transition("A-1", "closed", "city", AT, "done")
    with pytest.raises(CaseFormError):
        store.transition("A-1", "dismissed", "city", AT, "   ")
    with pytest.raises(CaseFormError):
        store.transition("A-1", "dispatched", "city", AT, "", {"assignee": "三中队"})
    with pytest.raises(KeyError):
        store.transition("nope", "dispatched", "city", AT, "", DISPATCH)
    assert store.get("A-1") == before
    assert store.head() == 1


def test_the_full_lifecycle(store):
    store.put(opened())
    for state in ("dispatched", "handled", "closed"):
        store.transition(
            "A-1", state, "enforce", AT, state, DISPATCH if state == "dispatched" else None
        )
    case = store.get("A-1")["case"]
    assert case["state"] == "closed"
    assert [e["note"] for e in case["history"]] == ["", "dispatched", "handled", "closed"]


def test_unknown_alerts_are_none(store):
    assert store.get("nope") is None
    assert store.query(AlertQuery()) == []
    assert store.head() == 0


def _seeded(store) -> None:
    store.put(alert("A-LX-0", "LX-1", LX, minute=0))
    store.put(alert("A-LX-2", "LX-2", LX, minute=2, type="overspeed"))
    store.put(alert("A-XS-1", "XS-1", XS, minute=1))
    store.put(alert("A-XS-3b", "XS-1", XS, minute=3))
    store.put(alert("A-XS-3a", "XS-1", XS, minute=3))
    store.put(alert("A-none", "XX-1", None, minute=4))
    store.transition("A-XS-1", "dispatched", "city", AT, "", DISPATCH)


def _ids(store, **filters) -> list[str]:
    return [a["id"] for a in store.query(AlertQuery(**filters))]


def test_query_newest_first_then_by_id(store):
    _seeded(store)
    assert _ids(store) == ["A-none", "A-XS-3b", "A-XS-3a", "A-LX-2", "A-XS-1", "A-LX-0"]
    assert _ids(store, limit=2) == ["A-none", "A-XS-3b"]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"district": LX}, ["A-LX-2", "A-LX-0"]),
        ({"district": "nowhere"}, []),
        ({"type": "overspeed"}, ["A-LX-2"]),
        ({"state": "dispatched"}, ["A-XS-1"]),
        ({"vehicle": "XS-1", "state": "open"}, ["A-XS-3b", "A-XS-3a"]),
        ({"since_ms": 1_748_779_200_000 + 2 * 60_000}, ["A-none", "A-XS-3b", "A-XS-3a", "A-LX-2"]),
        ({"until_ms": 1_748_779_200_000 + 60_000}, ["A-XS-1", "A-LX-0"]),
    ],
)
def test_query_filters(store, filters, expected):
    _seeded(store)
    assert _ids(store, **filters) == expected


def test_query_returns_each_alert_with_its_case(store):
    _seeded(store)
    rows = {a["id"]: a for a in store.query(AlertQuery())}
    assert rows == {aid: store.get(aid) for aid in rows}
    assert rows["A-XS-1"]["case"]["state"] == "dispatched"


def test_events_in_order_resumable_after_a_seq(store):
    store.put(opened("A-1"))
    store.put(opened("A-2"))
    store.transition("A-1", "dispatched", "city", AT, "", DISPATCH)
    events, gap = store.events_after(0, 10)
    assert ([e.seq for e in events], gap) == ([1, 2, 3], False)
    assert [(e.kind, e.alert["id"]) for e in events] == [
        ("alert", "A-1"),
        ("alert", "A-2"),
        ("case", "A-1"),
    ]
    assert events[0].alert["case"]["state"] == "open"  # as it was then
    assert events[2].alert == store.get("A-1")
    events, gap = store.events_after(1, 1)
    assert ([e.seq for e in events], gap) == ([2], False)
    assert store.events_after(3, 10) == ([], False)


def test_a_seq_from_the_future_means_reload(store):
    store.put(opened())
    assert store.events_after(5, 10) == ([], True)


def test_returned_records_are_copies(store):
    store.put(opened())
    got = store.get("A-1")
    got["case"]["history"].append({"state": "closed"})
    got["case"]["state"] = "closed"
    assert store.get("A-1")["case"]["state"] == "open"
    assert len(store.get("A-1")["case"]["history"]) == 1
