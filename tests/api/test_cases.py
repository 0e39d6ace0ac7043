"""The case lifecycle: allowed paths, refused transitions, an append-only trail. The case forms
(assignee, deadline, reason) are tested in test_case_forms.py."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from api import cases
from api.cases import CaseState, CaseTransitionError
from tests.api.conftest import auth

STATES = [s.value for s in CaseState]
T0 = "2025-06-01T20:00:00+08:00"
AT = {"dispatched": "2025-06-01T20:05:00+08:00", "handled": "2025-06-01T21:00:00+08:00"}
AT["closed"] = AT["dismissed"] = "2025-06-01T22:00:00+08:00"
# What each state's form needs (test_case_forms.py tests the rules themselves).
FORMS = {
    "dispatched": {"assignee": "三中队", "deadline": "2025-06-01T23:00:00+08:00"},
    "dismissed": {"reason": "false_alarm"},
}


def test_the_full_lifecycle_records_who_when_and_why():
    case = cases.new_case(T0)
    for state, who in (("dispatched", "city"), ("handled", "enforce"), ("closed", "city")):
        case = cases.transition(case, state, who, AT[state], f"{state} by {who}", FORMS.get(state))
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
        "at": AT["handled"],
        "note": "handled by enforce",
    }


INVALID = [
    (a, b) for a in STATES for b in STATES if CaseState(b) not in cases.NEXT_STATES[CaseState(a)]
]


@pytest.mark.parametrize(("current", "target"), INVALID)
def test_transitions_outside_the_lifecycle_are_refused(current, target):
    case = {"state": current, "history": [{"state": current, "by": "x", "at": T0, "note": ""}]}
    with pytest.raises(CaseTransitionError, match=f"cannot go from {current} to {target}"):
        # a complete form: the lifecycle alone refuses it
        cases.transition(case, target, "admin", AT["closed"], "a reason", FORMS.get(target))


def test_dismissal_needs_a_reason_and_unknown_states_are_named():
    case = cases.new_case(T0)
    with pytest.raises(cases.CaseFormError, match="reason: dismissing needs a reason"):
        cases.transition(case, "dismissed", "city", AT["dismissed"], "GPS drift")
    with pytest.raises(CaseTransitionError, match="unknown case state 'solved'"):
        cases.transition(case, "solved", "city", AT["dismissed"])
    dismissed = cases.transition(case, "dismissed", "city", AT["dismissed"], "", FORMS["dismissed"])
    assert (dismissed["state"], dismissed["reason"]) == ("dismissed", "false_alarm")


@given(
    st.lists(st.tuples(st.sampled_from(STATES), st.text(max_size=5), st.booleans()), max_size=12)
)
def test_history_only_ever_grows_by_valid_steps(steps):
    case = cases.new_case(T0)
    for i, (target, note, with_form) in enumerate(steps):
        before = [dict(e) for e in case["history"]]
        at = f"2025-06-01T20:{10 + i:02d}:00+08:00"
        try:
            after = cases.transition(
                case, target, "u", at, note, FORMS.get(target) if with_form else None
            )
        except (CaseTransitionError, cases.CaseFormError):
            assert case["history"] == before  # a refused step changes nothing
            continue
        assert after["history"][:-1] == before
        assert case["history"] == before  # the input is not mutated
        assert CaseState(after["state"]) in cases.NEXT_STATES[CaseState(case["state"])]
        case = after


def dispatch_form(app, hours: float = 2) -> dict:
    """A complete dispatch body: the deadline ``hours`` after the app's clock."""
    deadline = int((app.state.clock() + hours * 3600) * 1000)
    return {"state": "dispatched", "assignee": "三中队", "deadline": deadline}


def test_api_refuses_invalid_transitions_with_409_and_keeps_the_trail(client, app):
    headers = auth(app, "city")
    url = "/api/alerts/A-LX/case"
    response = client.post(url, json={"state": "closed", "note": "结案"}, headers=headers)
    assert response.status_code == 409
    assert "cannot go from open to closed" in response.json()["detail"]
    assert client.post(url, json={"state": "dismissed"}, headers=headers).status_code == 422
    done = client.post(url, json={**dispatch_form(app), "note": "派遣 to squad 3"}, headers=headers)
    assert done.status_code == 200
    history = client.get("/api/alerts/A-LX", headers=headers).json()["case"]["history"]
    assert [e["state"] for e in history] == ["open", "dispatched"]
    assert history[1]["note"] == "派遣 to squad 3" and history[1]["by"] == "city"


def test_city_supervisors_may_not_mark_a_case_handled(client, app):
    headers = auth(app, "city")
    client.post("/api/alerts/A-LX/case", json=dispatch_form(app), headers=headers)
    body = {"state": "handled", "note": "已清理"}
    response = client.post("/api/alerts/A-LX/case", json=body, headers=headers)
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
    client.post("/api/alerts/A-LX/case", json=dispatch_form(app), headers=headers)
    updated = dict(app.state.ports.alerts.get("A-LX"), ended_ts="2025-06-01T20:30:00+08:00")
    del updated["case"]
    assert app.state.feed.alert(updated) is not None
    stored = app.state.ports.alerts.get("A-LX")
    assert stored["ended_ts"] == "2025-06-01T20:30:00+08:00"
    assert (stored["case"]["state"], stored["case"]["assignee"]) == ("dispatched", "三中队")
    assert app.state.feed.alert(updated) is None  # unchanged: no new event
