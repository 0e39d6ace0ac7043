"""The memory twin of the alert store (``api.memory.MemoryAlertStore``): re-delivered versions,
cases kept across updates, the event log resumed by seq. Moved here from the Redis tests when
alerts left Redis (issue 10); the PostgreSQL store must behave the same."""

from __future__ import annotations

import pytest

from api.memory import MemoryAlertStore
from api.ports import AlertQuery


def _alert(aid, ts, vehicle="V1", district="A", type_="overspeed", **extra):
    return {
        "id": aid, "type": type_, "vehicle": vehicle, "district": district, "severity": "medium",
        "ts": ts, "ended_ts": None, "lat": 31.5, "lng": 120.3, **extra,
    }  # fmt: skip


@pytest.fixture
def store():
    return MemoryAlertStore(clock=lambda: 1_750_000_000.0)


def test_an_open_version_replayed_after_the_ended_one_does_not_reopen_it(store):
    opened = _alert("a1", "2025-06-02T18:00:00+08:00")
    ended = {**opened, "ended_ts": "2025-06-02T18:05:00+08:00"}
    assert store.put(opened) is not None
    assert store.put(ended) is not None
    # Records re-processed after a crash or a rebalance emit both versions again, in order.
    assert store.put(opened) is None
    assert store.put(ended) is None
    assert store.get("a1")["ended_ts"] == "2025-06-02T18:05:00+08:00"
    events, _ = store.events_after(0, 100)
    assert [e.alert["ended_ts"] for e in events] == [None, ended["ended_ts"]]


def test_alerts_keep_their_case_and_the_log_resumes_by_seq(store):
    e1 = store.put(_alert("a1", "2025-06-02T18:00:00+08:00"))
    assert e1.seq == 1 and e1.alert["case"]["state"]
    assert store.put(_alert("a1", "2025-06-02T18:00:00+08:00")) is None  # unchanged: no event
    e2 = store.put(_alert("a2", "2025-06-02T19:00:00+08:00", vehicle="V2", district="B"))
    form = {"assignee": "三中队", "deadline": "2025-06-02T20:00:00+08:00"}  # issue 13
    moved = store.transition("a1", "dispatched", "op", "2025-06-02T18:01:00+08:00", "go", form)
    assert moved.alert["case"]["state"] == "dispatched"
    e4 = store.put(_alert("a1", "2025-06-02T18:00:00+08:00", ended_ts="2025-06-02T18:05:00+08:00"))
    assert e4.alert["case"] == moved.alert["case"]  # an update keeps the case
    assert store.head() == 4
    events, gap = store.events_after(1, 10)
    assert [(e.seq, e.kind) for e in events] == [(2, "alert"), (3, "case"), (4, "alert")]
    assert not gap
    assert store.events_after(9, 10)[1]  # a seq from the future: reload
    assert [a["id"] for a in store.query(AlertQuery())] == ["a2", "a1"]
    assert [a["id"] for a in store.query(AlertQuery(district="A"))] == ["a1"]
    assert store.get("a2") == e2.alert
    with pytest.raises(KeyError):
        store.transition("nope", "x", "op", "now", "")
