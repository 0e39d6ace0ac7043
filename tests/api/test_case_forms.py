"""The case forms and the day's case list (issue 13, contract 3): dispatching names a team and a
deadline, handling and closing say what was done, dismissing gives a reason from the list (and
``other`` a note); overdue cases stand out.

First the rules themselves (``api.cases``, no HTTP), table by table; then the API on the memory
stores and the real ones (PostgreSQL keeps each history entry's assignee, deadline and reason).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from api import cases
from api.cases import CaseFormError, CaseTransitionError
from stream.eventtime import to_iso
from tests.api.conftest import LX, XS, Clock, alert, auth, make_settings
from tests.api.worlds import STORES, world_on

NOW = "2025-06-02T10:00:00+08:00"
NOW_MS = 1_748_829_600_000
HOUR_MS = 3_600_000
IN_2H = "2025-06-02T12:00:00+08:00"
SQUAD = "滨湖执法三中队"

# The case each target state is reached from (its history as a store gives it back).
OPEN = cases.new_case("2025-06-01T20:00:00+08:00")
DISPATCHED = cases.transition(OPEN, "dispatched", "city", "2025-06-02T09:00:00+08:00", "", {
    "assignee": SQUAD, "deadline": IN_2H})  # fmt: skip
HANDLED = cases.transition(DISPATCHED, "handled", "enforce", "2025-06-02T09:30:00+08:00", "已清理")
FROM = {"dispatched": OPEN, "handled": DISPATCHED, "closed": HANDLED, "dismissed": OPEN}

# (target state, note, form, the field refused or None, the fields kept)
FORMS = [
    ("dispatched", "", {"assignee": SQUAD, "deadline": IN_2H}, None,
     {"assignee": SQUAD, "deadline": NOW_MS + 2 * HOUR_MS}),
    ("dispatched", "速去", {"assignee": "  王警官 ", "deadline": NOW_MS + 1}, None,
     {"assignee": "王警官", "deadline": NOW_MS + 1}),  # epoch ms; the name trimmed
    ("dispatched", "", {"assignee": "队" * 64, "deadline": IN_2H}, None,
     {"assignee": "队" * 64, "deadline": NOW_MS + 2 * HOUR_MS}),
    ("dispatched", "", {"assignee": "队" * 65, "deadline": IN_2H}, "assignee", None),
    ("dispatched", "", {"deadline": IN_2H}, "assignee", None),
    ("dispatched", "", {"assignee": "   ", "deadline": IN_2H}, "assignee", None),
    ("dispatched", "", {"assignee": SQUAD}, "deadline", None),
    ("dispatched", "", {"assignee": SQUAD, "deadline": NOW}, "deadline", None),  # not after now
    ("dispatched", "", {"assignee": SQUAD, "deadline": NOW_MS - 1}, "deadline", None),
    ("dispatched", "", {"assignee": SQUAD, "deadline": "2025-06-02T12:00:00"}, "deadline", None),
    ("dispatched", "", {"assignee": SQUAD, "deadline": "明天"}, "deadline", None),
    ("dispatched", "", {"assignee": SQUAD, "deadline": IN_2H, "reason": "duplicate"}, "reason",
     None),
    ("handled", "", {}, "note", None),
    ("handled", "   ", {}, "note", None),
    ("handled", "已清理现场", {}, None, {}),
    ("handled", "已清理现场", {"deadline": IN_2H}, "deadline", None),
    ("closed", "", {}, "note", None),
    ("closed", "罚款 2000 元", {}, None, {}),
    ("closed", "结案", {"assignee": SQUAD}, "assignee", None),
    ("dismissed", "", {}, "reason", None),
    ("dismissed", "GPS 漂移", {}, "reason", None),  # a note is no reason code
    ("dismissed", "", {"reason": "misc"}, "reason", None),
    ("dismissed", "", {"reason": "other"}, "note", None),
    ("dismissed", "施工方已报备", {"reason": "other"}, None, {"reason": "other"}),
    *(("dismissed", "", {"reason": code}, None, {"reason": code})
      for code in ("false_alarm", "duplicate", "authorised", "device_fault")),
    ("dismissed", "", {"reason": "duplicate", "assignee": SQUAD}, "assignee", None),
]  # fmt: skip


@pytest.mark.parametrize(("state", "note", "form", "refused", "kept"), FORMS)
def test_the_form_of_each_state(state, note, form, refused, kept):
    before = FROM[state]
    if refused is not None:
        with pytest.raises(CaseFormError) as caught:
            cases.transition(before, state, "city", NOW, note, form)
        assert caught.value.field == refused
        return
    after = cases.transition(before, state, "city", NOW, note, form)
    entry = after["history"][-1]
    assert entry == {"state": state, "by": "city", "at": NOW, "note": note.strip(), **kept}
    assert after["history"][:-1] == before["history"]
    for field in cases.FORM_FIELDS:  # the case shows the latest given, kept from before
        assert after[field] == kept.get(field, before[field])


def test_the_lifecycle_is_checked_before_the_form():
    # closing an open case without a note: the transition is wrong, whatever the form says
    with pytest.raises(CaseTransitionError, match="cannot go from open to closed"):
        cases.transition(OPEN, "closed", "city", NOW, "")
    with pytest.raises(CaseTransitionError):
        cases.transition(HANDLED, "dismissed", "city", NOW, "", {"reason": "duplicate"})


def test_a_dismissed_dispatch_keeps_its_assignee_and_gains_a_reason():
    dismissed = cases.transition(DISPATCHED, "dismissed", "city", NOW, "", {"reason": "duplicate"})
    assert (dismissed["assignee"], dismissed["deadline"], dismissed["reason"]) == (
        SQUAD,
        NOW_MS + 2 * HOUR_MS,
        "duplicate",
    )
    assert [set(e) - {"state", "by", "at", "note"} for e in dismissed["history"]] == [
        set(),
        {"assignee", "deadline"},
        {"reason"},
    ]


@pytest.mark.parametrize(
    ("case", "now_ms", "overdue"),
    [
        (DISPATCHED, NOW_MS + 2 * HOUR_MS + 1, True),
        (DISPATCHED, NOW_MS + 2 * HOUR_MS, False),  # at the deadline: not yet passed
        (DISPATCHED, NOW_MS, False),
        (HANDLED, NOW_MS + 48 * HOUR_MS, False),  # handled in time or not, it is handled
        (OPEN, NOW_MS + 48 * HOUR_MS, False),  # no deadline
    ],
)
def test_overdue(case, now_ms, overdue):
    assert cases.overdue(case, now_ms) is overdue


def test_the_reasons_list():
    assert cases.reason_list() == [
        {"code": "false_alarm", "zh": "误报", "en": "False alarm"},
        {"code": "duplicate", "zh": "重复告警", "en": "Duplicate alert"},
        {"code": "authorised", "zh": "已审批作业", "en": "Authorised work"},
        {"code": "device_fault", "zh": "设备故障", "en": "Device fault"},
        {"code": "other", "zh": "其他", "en": "Other"},
    ]


# --- the API, memory and real stores ---------------------------------------------------------

CLOCK_S = NOW_MS / 1000  # the server clock: 2025-06-02 10:00 Beijing
# Alerts by Beijing day (ts in ms), district and type: the case list's oracle.
DAY1_LAST = 1_748_793_599_999  # 2025-06-01T23:59:59.999+08:00
DAY2_FIRST = DAY1_LAST + 1  # 2025-06-02T00:00+08:00 (2025-06-01T16:00Z: still the 1st in UTC)
LIST_ALERTS = [
    ("L-1a", "V1", LX, DAY1_LAST - 5 * HOUR_MS, "overspeed"),
    ("L-1b", "V2", XS, DAY1_LAST, "suspected_dumping"),
    ("L-2a", "V1", LX, DAY2_FIRST, "suspected_dumping"),
    ("L-2b", "V3", LX, DAY2_FIRST + 2 * HOUR_MS, "overspeed"),
    ("L-2c", "V2", XS, DAY2_FIRST + 3 * HOUR_MS, "route_deviation"),
    ("L-2d", "V4", LX, DAY2_FIRST + 4 * HOUR_MS, "overspeed"),
    ("L-3a", "V1", LX, DAY2_FIRST + 24 * HOUR_MS, "overspeed"),  # the 3rd, tomorrow
]
FORM_ALERTS = ["F-1", "F-2", "F-3", "F-4", "F-5"]  # the transition tests' own (filed on the 5th)


def _file_alerts(app) -> None:
    for aid, vid, district, ts, kind in LIST_ALERTS:
        app.state.feed.alert(alert(aid, vid, district, type=kind, ts=ts))
    for aid in FORM_ALERTS:
        app.state.feed.alert(alert(aid, "V9", LX, ts="2025-06-05T08:00:00+08:00"))


@contextmanager
def _app(store: str, demo: bool = False) -> Iterator[tuple]:
    clock = Clock(CLOCK_S)
    with world_on(store, _file_alerts, clock=clock, settings=make_settings(demo=demo)) as both:
        yield (*both, clock)


@pytest.fixture(scope="module", params=STORES)
def world(request) -> Iterator[tuple]:
    with _app(request.param) as both:
        yield both


def post(world, user: str, aid: str, body: dict):
    app, client, _ = world
    return client.post(f"/api/alerts/{aid}/case", json=body, headers=auth(app, user))


def case_of(world, aid: str) -> dict:
    app, client, _ = world
    return client.get(f"/api/alerts/{aid}", headers=auth(app, "admin")).json()["case"]


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"state": "dispatched"}, 422, "assignee"),
        ({"state": "dispatched", "assignee": SQUAD}, 422, "deadline"),
        ({"state": "dispatched", "assignee": SQUAD, "deadline": NOW}, 422, "deadline"),
        ({"state": "dispatched", "assignee": SQUAD, "deadline": True}, 422, "deadline"),
        ({"state": "dismissed", "note": "GPS 漂移"}, 422, "reason"),
        ({"state": "dismissed", "reason": "other"}, 422, "note"),
        ({"state": "dismissed", "reason": "false_alarm", "colour": "red"}, 422, "colour"),
        ({"state": "closed", "note": "结案"}, 409, None),  # open -> closed: the lifecycle's
        ({"state": "handled", "note": "已处置"}, 409, None),
    ],
)
def test_a_refused_form_changes_nothing(world, body, status, field):
    response = post(world, "admin", "F-1", body)
    assert response.status_code == status, response.text
    if field is not None:
        assert field in str(response.json()["detail"])
    case = case_of(world, "F-1")
    assert case["state"] == "open" and len(case["history"]) == 1


def test_dispatch_handle_close_keep_each_form_in_the_trail(world):
    body = {"state": "dispatched", "assignee": SQUAD, "deadline": IN_2H, "note": "速去现场"}
    response = post(world, "city", "F-2", body)
    assert response.status_code == 200, response.text
    deadline = NOW_MS + 2 * HOUR_MS
    assert (response.json()["case"]["assignee"], response.json()["case"]["deadline"]) == (
        SQUAD,
        deadline,
    )
    assert post(world, "enforce", "F-2", {"state": "handled", "note": "已清理"}).status_code == 200
    assert (
        post(world, "city", "F-2", {"state": "closed", "note": "罚款 2000 元"}).status_code == 200
    )
    case = case_of(world, "F-2")  # read back from the store (PostgreSQL: from case_audit)
    assert (case["state"], case["assignee"], case["deadline"], case["reason"]) == (
        "closed",
        SQUAD,
        deadline,
        None,
    )
    at = to_iso(NOW_MS)
    assert case["history"][1:] == [
        {"state": "dispatched", "by": "city", "at": at, "note": "速去现场", "assignee": SQUAD,
         "deadline": deadline},
        {"state": "handled", "by": "enforce", "at": at, "note": "已清理"},
        {"state": "closed", "by": "city", "at": at, "note": "罚款 2000 元"},
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("aid", "body"),
    [
        ("F-3", {"state": "dismissed", "reason": "other", "note": "施工方已报备"}),
        ("F-4", {"state": "dismissed", "reason": "device_fault"}),
    ],
)
def test_dismissal_keeps_its_reason(world, aid, body):
    response = post(world, "liangxi", aid, body)
    assert response.status_code == 200, response.text
    case = case_of(world, aid)
    assert (case["state"], case["reason"], case["assignee"]) == ("dismissed", body["reason"], None)
    assert case["history"][-1] == {
        "state": "dismissed",
        "by": "liangxi",
        "at": to_iso(NOW_MS),
        "note": body.get("note", ""),
        "reason": body["reason"],
    }


def test_the_reasons_route(world):
    app, client, _ = world
    assert client.get("/api/cases/reasons").status_code == 401
    response = client.get("/api/cases/reasons", headers=auth(app, "viewer"))
    assert response.json() == cases.reason_list()


# (user, parameters, ids in order: newest first)
LISTS = [
    ("city", {"day": "2025-06-01"}, ["L-1b", "L-1a"]),
    ("city", {"day": "2025-06-02"}, ["L-2d", "L-2c", "L-2b", "L-2a"]),
    ("city", {}, ["L-2d", "L-2c", "L-2b", "L-2a"]),  # today by the server clock
    ("city", {"day": "2025-06-03"}, ["L-3a"]),
    ("city", {"day": "2025-06-04"}, []),
    ("liangxi", {"day": "2025-06-02"}, ["L-2d", "L-2b", "L-2a"]),
    ("xishan", {"day": "2025-06-01"}, ["L-1b"]),
    ("city", {"day": "2025-06-02", "district": XS}, ["L-2c"]),
    ("city", {"day": "2025-06-02", "type": "overspeed"}, ["L-2d", "L-2b"]),
    ("liangxi", {"day": "2025-06-02", "type": "route_deviation"}, []),
]


@pytest.mark.parametrize(("user", "params", "expected"), LISTS)
def test_the_case_list_of_a_day(world, user, params, expected):
    app, client, _ = world
    response = client.get("/api/cases", params=params, headers=auth(app, user))
    assert response.status_code == 200, response.text
    rows = response.json()
    assert [r["id"] for r in rows] == expected
    assert all(r["case"]["state"] in cases.NEXT_STATES and "overdue" in r for r in rows)


@pytest.mark.parametrize(
    ("user", "params", "status"),
    [
        ("city", {"day": "2025-6-2"}, 422),
        ("city", {"day": "yesterday"}, 422),
        ("city", {"day": "2025-06-02", "overdue": "maybe"}, 422),
        ("city", {"day": "2025-06-02", "state": "solved"}, 422),
        ("liangxi", {"day": "2025-06-02", "district": XS}, 403),
    ],
)
def test_refused_lists(world, user, params, status):
    app, client, _ = world
    assert client.get("/api/cases", params=params, headers=auth(app, user)).status_code == status


def test_overdue_cases_stand_out_by_the_server_clock(world):
    """Last of the module's API tests: it moves the day-2 cases and the clock."""
    app, client, clock = world
    dispatch = {"state": "dispatched", "assignee": SQUAD}
    assert post(world, "city", "L-2a", dispatch | {"deadline": NOW_MS + HOUR_MS}).status_code == 200
    assert (
        post(world, "city", "L-2b", dispatch | {"deadline": NOW_MS + 3 * HOUR_MS}).status_code
        == 200
    )
    assert post(world, "city", "L-2d", dispatch | {"deadline": NOW_MS + HOUR_MS}).status_code == 200
    assert post(world, "enforce", "L-2d", {"state": "handled", "note": "已处置"}).status_code == 200

    def listed(**params) -> dict[str, bool]:
        rows = client.get(
            "/api/cases", params={"day": "2025-06-02", **params}, headers=auth(app, "city")
        ).json()
        return {r["id"]: r["overdue"] for r in rows}

    assert listed() == {"L-2d": False, "L-2c": False, "L-2b": False, "L-2a": False}
    clock.now = CLOCK_S + 2 * 3600  # two hours on: L-2a's deadline has passed, L-2b's not
    try:
        assert listed() == {"L-2d": False, "L-2c": False, "L-2b": False, "L-2a": True}
        assert listed(overdue="true") == {"L-2a": True}
        assert listed(overdue="false") == {"L-2d": False, "L-2c": False, "L-2b": False}
        assert listed(overdue="true", state="handled") == {}
        assert listed(state="dispatched") == {"L-2b": False, "L-2a": True}
    finally:
        clock.now = CLOCK_S


def test_the_demo_lists_the_data_day_by_default():
    """In the demo the data is a simulated night, not today: the list opens on its day."""
    with _app("memory", demo=True) as (app, client, clock):
        clock.now = CLOCK_S + 30 * 86_400  # a month later by the wall clock
        rows = client.get("/api/cases", headers=auth(app, "city")).json()
        assert [r["id"] for r in rows] == FORM_ALERTS[::-1]  # the newest alert's day: the 5th
        rows = client.get("/api/cases", headers=auth(app, "xishan")).json()
        assert [r["id"] for r in rows] == ["L-2c"]  # 锡山's newest alert is of the 2nd
