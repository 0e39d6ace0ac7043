"""Finding a truck and opening its card (issue 13, contracts 1 and 2), as a duty officer does:
part of a plate as it is painted (苏B·D1234) or typed (苏bd1234), a company, a terminal phone.

The fleet below is the oracle: which vehicle each search finds, in which order, is written by
hand. Run on the memory stores and on the real ones (Redis live view, PostgreSQL registry,
trips and alerts).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.api.conftest import BASE_MS, LX, XS, alert, auth, ping
from tests.api.worlds import STORES, world_on

BH = "滨湖"  # a third district: the filler fleet for the limits
HOUR_MS = 3_600_000
LX_CO, XS_CO, XS_OIL = "梁溪城建渣土运输有限公司", "锡山环境运输有限公司", "锡山油脂回收有限公司"
# id: (plate, company, district, kind, terminal phone)
FLEET = {
    "V0007": ("苏B·D1234", LX_CO, LX, "muck", "013912340007"),
    "V0008": ("苏B·D1235", LX_CO, LX, "muck", "013912340008"),
    "V0101": ("苏B·K5566", "无锡市餐厨垃圾收运公司", LX, "kitchen", "013955660101"),
    "W0001": ("", LX_CO, LX, "muck", "013900000001"),  # plate not entered yet
    "V0201": ("苏B·E0001", XS_CO, XS, "muck", "013800000201"),
    "V0202": ("苏B·E0002", XS_CO, XS, "muck", "013800000202"),
    "V0301": ("苏B·Y7788", XS_OIL, XS, "oil", "013877880301"),
}
FILLERS = [f"F{n:04d}" for n in range(250)]  # 苏B·F0000...: 滨湖's muck fleet
EVERY = len(FLEET) + len(FILLERS)
# The live picture: (vehicle, minute, speed, load, an alert with it). V0202 has no position.
FIXES = [
    ("V0007", 30, 30.0, "full", False),  # loaded
    ("V0008", 30, 20.0, None, True),  # violation
    ("V0101", 30, 0.0, None, False),  # idle
    ("W0001", 30, 0.0, None, False),  # idle
    ("V0201", 30, 45.0, None, False),  # on_trip
    ("V0301", 0, 10.0, None, False),  # silent since: offline
]


def registry_record(vid: str) -> dict:
    if vid in FLEET:
        plate, company, district, kind, phone = FLEET[vid]
    else:
        plate, company, district, kind = f"苏B·{vid}", "滨湖渣土车队", BH, "muck"
        phone = f"0139000{vid[1:]}"
    return {
        "id": vid,
        "kind": kind,
        "company": company,
        "district": district,
        "terminal_phone": phone,
        "plate": plate,
    }


PERMIT = {
    "id": "P-7",
    "site": "site-lx",
    "vehicles": ["V0007", "V0008"],
    "terminals": ["term-xs"],
    "corridors": [],
    "valid_from": "2025-01-01T00:00:00+08:00",
    "valid_to": "2025-12-31T23:59:59+08:00",
    "hours": ["20:00-06:00"],
}
TRIPS = [
    {"id": "T-old", "vehicle": "V0007", "kind": "muck", "site": "site-lx", "permit": "P-7",
     "load_ts": "2025-06-01T19:00:00+08:00", "departed_ts": "2025-06-01T19:20:00+08:00",
     "unload_fence": "term-xs", "unload_ts": "2025-06-01T19:50:00+08:00",
     "status": "delivered", "overdue": False, "late": False},
    {"id": "T-now", "vehicle": "V0007", "kind": "muck", "site": "site-lx", "permit": "P-7",
     "load_ts": "2025-06-01T20:10:00+08:00", "departed_ts": "2025-06-01T20:20:00+08:00",
     "unload_fence": None, "unload_ts": None, "status": "open", "overdue": False,
     "late": False},
    {"id": "T-8", "vehicle": "V0008", "kind": "muck", "site": "site-lx", "permit": "P-7",
     "load_ts": "2025-06-01T18:00:00+08:00", "departed_ts": "2025-06-01T18:10:00+08:00",
     "unload_fence": "term-xs", "unload_ts": "2025-06-01T18:40:00+08:00",
     "status": "delivered", "overdue": False, "late": False},
    {"id": "R-1", "vehicle": "V0101", "kind": "kitchen", "start_ts": "2025-06-01T19:30:00+08:00",
     "lat": 31.58, "lng": 120.31, "producers": ["producer-07", "producer-09"], "plant": None,
     "delivered_ts": None, "status": "open", "overdue": False, "late": False},
]  # fmt: skip
LOAD_MS = BASE_MS + 10 * 60_000  # T-now's load_ts
ROUND_MS = BASE_MS - 30 * 60_000  # R-1's start_ts


def alerts_of_the_day() -> list[dict]:
    """V0007: one 梁溪 alert an hour for 24 h (the newest sets 梁溪's data time, BASE + 24 h).
    A 梁溪 alert names 锡山's V0201 exactly 24 h before that, another V0202 a minute earlier;
    V0201 also has a 锡山 alert of its own."""
    hourly = [alert(f"A-V0007-{i:02d}", "V0007", LX, minute=60 * i) for i in range(25)]
    return [
        *hourly,
        alert("A-LX-V0201", "V0201", LX, minute=0),
        alert("A-XS-V0201", "V0201", XS, minute=5),
        alert("A-LX-V0202", "V0202", LX, minute=-1),
    ]


def load(app) -> None:
    ports, feed = app.state.ports, app.state.feed
    for vid in [*FLEET, *FILLERS]:
        ports.vehicles.put(registry_record(vid))
    ports.permits.put(PERMIT)
    for trip in TRIPS:
        feed.trip(trip)
    for vid, minute, speed, loaded, with_alert in FIXES:
        if with_alert:
            feed.alert(alert(f"A-{vid}", vid, LX, minute=minute))
        feed.position(ping(vid, minute, speed_kmh=speed, **({"loaded": loaded} if loaded else {})))
    feed.mark_offline(BASE_MS + 31 * 60_000)
    for a in alerts_of_the_day():  # after the fixes: they do not colour them
        feed.alert(a)


@pytest.fixture(scope="module", params=STORES)
def world(request) -> Iterator[tuple]:
    with world_on(request.param, load) as both:
        yield both


def get(world, user: str, path: str, **params):
    app, client = world
    return client.get(path, params=params, headers=auth(app, user))


# (user, parameters, the ids found, in order: by plate, then id)
SEARCHES = [
    ("city", {"q": "d123"}, ["V0007", "V0008"]),  # part of a plate, any case
    ("city", {"q": "苏bd1234"}, ["V0007"]),  # typed without the middle dot
    ("city", {"q": "苏B·D1234"}, ["V0007"]),  # as painted
    ("city", {"q": " 苏B D1235 "}, ["V0008"]),  # spaces where the dot was
    ("city", {"q": "v020"}, ["V0201", "V0202"]),  # the id
    ("city", {"q": "锡山"}, ["V0201", "V0202", "V0301"]),  # two companies of 锡山
    ("city", {"q": "5566"}, ["V0101"]),  # plate and phone both hold it: found once
    ("city", {"q": "0139123400"}, ["V0007", "V0008"]),  # the terminal phone
    ("city", {"q": "无此车"}, []),
    ("liangxi", {"q": "锡山"}, []),  # another district's: scope first
    ("xishan", {"q": "d123"}, []),
    ("enforce_lx", {"q": "V0"}, ["V0007", "V0008", "V0101"]),
    ("xishan", {"q": "锡山"}, ["V0201", "V0202", "V0301"]),
    ("liangxi", {}, ["W0001", "V0007", "V0008", "V0101"]),  # no plate sorts first
    ("city", {"kind": "oil"}, ["V0301"]),
    ("city", {"company": XS_CO}, ["V0201", "V0202"]),
    ("city", {"district": XS, "state": "offline"}, ["V0202", "V0301"]),  # no position: offline
    ("city", {"state": "violation"}, ["V0008"]),
    ("city", {"state": "loaded"}, ["V0007"]),
    ("city", {"state": "on_trip"}, ["V0201"]),
    ("liangxi", {"state": "on_trip"}, []),
    ("liangxi", {"state": "idle"}, ["W0001", "V0101"]),
    ("city", {"q": "苏b·e", "kind": "muck", "district": XS}, ["V0201", "V0202"]),
    ("city", {"district": BH, "q": "f000", "limit": 3}, ["F0000", "F0001", "F0002"]),
]


@pytest.mark.parametrize(("user", "params", "expected"), SEARCHES)
def test_search_finds_exactly_these_in_this_order(world, user, params, expected):
    response = get(world, user, "/api/vehicles", **params)
    assert response.status_code == 200, response.text
    assert [v["id"] for v in response.json()] == expected


def test_each_item_is_the_registry_record_and_its_live_position(world):
    rows = {v["id"]: v for v in get(world, "city", "/api/vehicles", q="苏B·").json()}
    assert {k: rows["V0007"][k] for k in registry_record("V0007")} == registry_record("V0007")
    assert rows["V0007"]["position"]["vehicle"] == "V0007"
    assert rows["V0007"]["position"]["state"] == "loaded"
    assert rows["V0202"]["position"] is None


@pytest.mark.parametrize(
    ("params", "count"), [({}, 200), ({"limit": 5000}, EVERY), ({"limit": 1}, 1)]
)
def test_the_limit(world, params, count):
    rows = get(world, "city", "/api/vehicles", **params).json()
    assert len(rows) == count
    plates = [(v["plate"], v["id"]) for v in rows]
    assert plates == sorted(plates)


@pytest.mark.parametrize(
    ("user", "params", "status"),
    [
        ("city", {"limit": 5001}, 422),
        ("city", {"limit": 0}, 422),
        ("city", {"state": "parked"}, 422),  # a counter, not a live state
        ("city", {"q": "x" * 65}, 422),
        ("liangxi", {"district": XS}, 403),
        ("liangxi", {"district": LX}, 200),
    ],
)
def test_refused_searches(world, user, params, status):
    assert get(world, user, "/api/vehicles", **params).status_code == status


# --- the card --------------------------------------------------------------------------------


def test_the_card_of_a_truck_on_a_trip(world):
    card = get(world, "liangxi", "/api/vehicles/V0007").json()
    assert {k: card[k] for k in registry_record("V0007")} == registry_record("V0007")
    assert card["position"]["vehicle"] == "V0007" and card["position"]["loaded"] is True
    trip = card["trip"]
    assert {k: trip[k] for k in ("id", "state", "loaded", "source", "permit", "started")} == {
        "id": "T-now",
        "state": "open",
        "loaded": True,
        "source": "site-lx",
        "permit": "P-7",
        "started": LOAD_MS,
    }
    assert card["permit"] == {**PERMIT, "sources": ["site-lx"]}
    # the 20 newest of its 25 alerts, newest first
    assert [a["id"] for a in card["alerts"]] == [f"A-V0007-{i:02d}" for i in range(24, 4, -1)]
    assert card["alerts"][0] == {
        "id": "A-V0007-24",
        "type": "suspected_dumping",
        "severity": "high",
        "ts": "2025-06-02T20:00:00+08:00",
        "ended_ts": None,
        "district": LX,
        "case_state": "open",
    }


def test_the_card_of_a_kitchen_vehicle_on_its_round(world):
    card = get(world, "city", "/api/vehicles/V0101").json()
    trip = card["trip"]
    assert (trip["id"], trip["loaded"], trip["source"], trip["permit"]) == (
        "R-1",
        True,
        "producer-07",
        None,
    )
    assert trip["started"] == ROUND_MS and card["permit"] is None and card["alerts"] == []


def test_a_truck_between_trips_has_no_trip_and_no_permit_on_its_card(world):
    card = get(world, "city", "/api/vehicles/V0008").json()
    assert (card["trip"], card["permit"]) == (None, None)
    assert [a["id"] for a in card["alerts"]] == ["A-V0008"]
    assert card["position"]["state"] == "violation"


# (user, vehicle) -> the card's alerts, or None: 404. 梁溪's data time is BASE + 24 h.
CARDS = [
    ("liangxi", "V0201", ["A-LX-V0201"]),  # named by a 梁溪 alert exactly 24 h old
    ("liangxi", "V0202", None),  # named by one 24 h and 1 min old: no longer
    ("liangxi", "V0301", None),  # never named in 梁溪
    ("enforce_lx", "V0201", ["A-LX-V0201"]),
    ("xishan", "V0201", ["A-XS-V0201"]),  # 锡山's own alert, not 梁溪's
    ("xishan", "V0007", None),
    ("city", "V0201", ["A-XS-V0201", "A-LX-V0201"]),
    ("city", "V0202", ["A-LX-V0202"]),
]


@pytest.mark.parametrize(("user", "vehicle", "alerts"), CARDS)
def test_who_opens_which_card(world, user, vehicle, alerts):
    response = get(world, user, f"/api/vehicles/{vehicle}")
    if alerts is None:
        assert response.status_code == 404, response.text
        assert response.json() == {"detail": f"vehicle {vehicle!r} not found"}
        return
    assert response.status_code == 200, response.text
    card = response.json()
    assert card["id"] == vehicle and card["district"] == FLEET[vehicle][2]
    assert [a["id"] for a in card["alerts"]] == alerts


@pytest.mark.parametrize(("user", "vehicle", "alerts"), CARDS)
def test_whoever_opens_the_card_sees_the_track_and_no_one_else(world, user, vehicle, alerts):
    """The card's recent track follows the card's rule (issue 13): a 梁溪 officer sees the track
    of a 锡山 truck a recent 梁溪 alert names, and of no other outside 梁溪."""
    response = get(world, user, f"/api/vehicles/{vehicle}/track")
    if alerts is None:
        assert response.status_code == 404, response.text
        return
    assert response.status_code == 200, response.text
    assert response.json()["vehicle"] == vehicle


def test_an_unknown_vehicle_has_no_card(world):
    assert get(world, "city", "/api/vehicles/NOPE").status_code == 404
