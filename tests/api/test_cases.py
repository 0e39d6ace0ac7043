"""The case lifecycle: allowed paths, refused transitions, an append-only trail."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from api import cases
from api.cases import CaseState, CaseTransitionError
from tests.api.conftest import auth

STATES = [s.value for s in CaseState]


def test_the_full_lifecycle_records_who_when_and_why():
    case = cases.new_case("2025-06-01T20:00:00+08:00")
    for state, who in (("dispatched", "city"), ("handled", "enforce"), ("closed", "city")):
        case = cases.transition(case, state, who, f"t-{state}", note=f"{state} by {who}")
    assert case["state"] == "closed"
    assert [(e["state"], e["by"]) for e in case["history"]] == [
        ("open", "system"),
        ("dispatched", "city"),
        ("handled", "enforce"),
        ("closed", "city"),
    ]
    assert case["history"][2] == {
        "state": "handled",
        "by": "enforce",
        "at": "t-handled",
        "note": "handled by enforce",
    }


INVALID = [
    (a, b) for a in STATES for b in STATES if CaseState(b) not in cases.NEXT_STATES[CaseState(a)]
]


@pytest.mark.parametrize(("current", "target"), INVALID)
def test_transitions_outside_the_lifecycle_are_refused(current, target):
    case = {"state": current, "history": [{"state": current, "by": "x", "at": "t", "note": ""}]}
    with pytest.raises(CaseTransitionError, match=f"cannot go from {current} to {target}"):
        cases.transition(case, target, "admin", "t2", "a reason")


def test_dismissal_needs_a_reason_and_unknown_states_are_named():
    case = cases.new_case("t")
    with pytest.raises(CaseTransitionError, match="needs a reason"):
        cases.transition(case, "dismissed", "city", "t2", "   ")
    with pytest.raises(CaseTransitionError, match="unknown case state 'solved'"):
        cases.transition(case, "solved", "city", "t2")
    assert cases.transition(case, "dismissed", "city", "t2", "GPS drift")["state"] == "dismissed"


@given(st.lists(st.tuples(st.sampled_from(STATES), st.text(max_size=5)), max_size=12))
def test_history_only_ever_grows_by_valid_steps(steps):
    case = cases.new_case("t0")
    for i, (target, note) in enumerate(steps):
        before = [dict(e) for e in case["history"]]
        try:
            after = cases.transition(case, target, "u", f"t{i}", note)
        except CaseTransitionError:
            assert case["history"] == before  # a refused step changes nothing
            continue
        assert after["history"][:-1] == before
        assert case["history"] == before  # the input is not mutated
        assert CaseState(after["state"]) in cases.NEXT_STATES[CaseState(case["state"])]
        case = after


def test_api_refuses_invalid_transitions_with_409_and_keeps_the_trail(client, app):
    headers = auth(app, "city")
    url = "/api/alerts/A-LX/case"
    response = client.post(url, json={"state": "closed"}, headers=headers)
    assert response.status_code == 409
    assert "cannot go from open to closed" in response.json()["detail"]
    assert client.post(url, json={"state": "dismissed"}, headers=headers).status_code == 409
    done = client.post(
        url, json={"state": "dispatched", "note": "派遣 to squad 3"}, headers=headers
    )
    assert done.status_code == 200
    history = client.get("/api/alerts/A-LX", headers=headers).json()["case"]["history"]
    assert [e["state"] for e in history] == ["open", "dispatched"]
    assert history[1]["note"] == "派遣 to squad 3" and history[1]["by"] == "city"


def test_city_supervisors_may_not_mark_a_case_handled(client, app):
    headers = auth(app, "city")
    client.post("/api/alerts/A-LX/case", json={"state": "dispatched"}, headers=headers)
    response = client.post("/api/alerts/A-LX/case", json={"state": "handled"}, headers=headers)
    assert response.status_code == 403


def test_the_stored_trail_cannot_be_edited_through_returned_copies(app):
    store = app.state.ports.alerts
    copy = store.get("A-LX")
    copy["case"]["history"][0]["by"] = "forger"
    copy["case"]["history"].append({"state": "closed"})
    assert store.get("A-LX")["case"]["history"] == [
        {
            "state": "open",
            "by": "system",
            "at": store.get("A-LX")["case"]["history"][0]["at"],
            "note": "",
        }
    ]


def test_an_updated_alert_keeps_its_case(client, app):
    headers = auth(app, "admin")
    client.post("/api/alerts/A-LX/case", json={"state": "dispatched"}, headers=headers)
    updated = dict(app.state.ports.alerts.get("A-LX"), ended_ts="2025-06-01T20:30:00+08:00")
    del updated["case"]
    assert app.state.feed.alert(updated) is not None
    stored = app.state.ports.alerts.get("A-LX")
    assert stored["ended_ts"] == "2025-06-01T20:30:00+08:00"
    assert stored["case"]["state"] == "dispatched"
    assert app.state.feed.alert(updated) is None  # unchanged: no new event
