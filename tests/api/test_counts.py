"""The fleet counters add up (issue 13, contract 4): 在线车辆 counted offline vehicles, and a loaded
truck in violation counted only as 违规.

A fleet with every state at once, moving and parked, loaded and violating, in two districts; the
expected counters are counted by hand from the table below (the oracle), and the same numbers
must come from ``GET /api/live/counts`` and from the websocket's ``counts`` message, for the city
and each district, on the memory stores and on the real ones (Redis live view).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from stream.live.projection import COUNT_KEYS, tally
from tests.api.conftest import LX, XS, alert, auth, frames_until, ping, ticket, vehicle
from tests.api.worlds import STORES, world_on

pytestmark = pytest.mark.timeout(120)

NOW_MIN = 30  # the fleet's latest fixes; silent since minute 0 = offline (10 min, event time)
# vehicle, district, kind, speed km/h, load sensor, an alert at its fix, silent (offline)
FLEET = [
    ("LX-M1", LX, "muck", 30.0, "full", True, False),  # moving, loaded AND violating
    ("LX-M2", LX, "muck", 0.0, "half", True, False),  # parked, loaded, violating
    ("LX-M3", LX, "muck", 40.0, "empty", True, False),  # moving, violating, empty
    ("LX-M4", LX, "muck", 2.0, "empty", False, False),  # parked (creeping is not moving)
    ("LX-M5", LX, "muck", 5.0, None, False, False),  # moving: 5 km/h is moving (contract)
    ("LX-M6", LX, "muck", 60.0, "full", False, True),  # offline: in no online count
    ("LX-K1", LX, "kitchen", 20.0, "full", False, False),  # moving, loaded
    ("XS-M1", XS, "muck", 0.0, "full", False, False),  # parked, loaded
    ("XS-M2", XS, "muck", 35.0, "full", True, True),  # offline although it violated
    ("XS-M3", XS, "muck", 4.9, None, False, False),  # parked: just under 5 km/h
    ("XS-M4", XS, "muck", 50.0, "empty", False, False),  # moving, empty: on its way
]
# counted by hand from FLEET
EXPECTED = {
    LX: {"total": 7, "online": 6, "offline": 1, "moving": 4, "parked": 2, "loaded": 3,
         "violating": 3},
    XS: {"total": 4, "online": 3, "offline": 1, "moving": 1, "parked": 2, "loaded": 1,
         "violating": 0},
    None: {"total": 11, "online": 9, "offline": 2, "moving": 5, "parked": 4, "loaded": 4,
           "violating": 3},
}  # fmt: skip
SCOPES = {"city": None, "liangxi": LX, "xishan": XS}


def load_fleet(app) -> None:
    """The fleet through the API's intake, as the engine's output arrives."""
    feed = app.state.feed
    for vid, district, kind, speed, load, violating, silent in FLEET:
        app.state.ports.vehicles.put(vehicle(vid, district, kind))
        minute = 0 if silent else NOW_MIN
        if violating:  # the alert colours the fix it comes with (api.feed)
            feed.alert(alert(f"A-{vid}", vid, district, minute=minute))
        extra = {"speed_kmh": speed} | ({"loaded": load} if load else {})
        feed.position(ping(vid, minute, **extra))
    feed.mark_offline(ping("x", NOW_MIN + 1)["ts"])  # the watermark: minute 0 is 31 min ago


@pytest.fixture(scope="module", params=STORES)
def fleet(request) -> Iterator[tuple]:
    with world_on(request.param, load_fleet) as world:
        yield world


def main_counts(counts: dict) -> dict:
    return {k: counts[k] for k in COUNT_KEYS}


def test_the_fleet_has_every_state_at_once(fleet):
    app, _ = fleet
    drawn = {p["vehicle"]: p["state"] for p in app.state.ports.live.query()}
    assert set(drawn.values()) == {"on_trip", "loaded", "idle", "offline", "violation"}
    assert drawn["LX-M1"] == "violation" and drawn["XS-M2"] == "offline"


@pytest.mark.parametrize("user", SCOPES)
def test_the_route_counts_match_the_hand_count(fleet, user):
    app, client = fleet
    response = client.get("/api/live/counts", headers=auth(app, user))
    assert response.status_code == 200, response.text
    assert main_counts(response.json()) == EXPECTED[SCOPES[user]]


@pytest.mark.parametrize("user", SCOPES)
def test_the_websocket_counts_match_the_route(fleet, user):
    app, client = fleet
    with client.websocket_connect(f"/ws/live?ticket={ticket(client, app, user)}") as ws:
        counts = frames_until(ws, lambda f: f["type"] == "counts")[-1]["counts"]
    assert main_counts(counts) == EXPECTED[SCOPES[user]]
    route = client.get("/api/live/counts", headers=auth(app, user)).json()
    assert counts == route  # one function behind both


@pytest.mark.parametrize("scope", EXPECTED)
def test_the_parts_add_up(scope):
    counts = EXPECTED[scope]  # the hand count itself obeys the contract
    assert counts["online"] + counts["offline"] == counts["total"]
    assert counts["moving"] + counts["parked"] == counts["online"]
    assert counts["loaded"] <= counts["online"] and counts["violating"] <= counts["online"]


# tally, row by row: (position records, the counters that differ from all-zero)
ROWS = [
    ([], {}),
    ([{"state": "violation", "speed_kmh": 30.0, "loaded": True}],
     {"total": 1, "online": 1, "moving": 1, "loaded": 1, "violating": 1}),
    ([{"state": "offline", "speed_kmh": 30.0, "loaded": True}], {"total": 1, "offline": 1}),
    ([{"state": "idle", "speed_kmh": None, "loaded": False}],
     {"total": 1, "online": 1, "parked": 1}),
    # written before the loaded flag: drawn loaded counts as loaded
    ([{"state": "loaded", "speed_kmh": 4.99}], {"total": 1, "online": 1, "parked": 1, "loaded": 1}),
    ([{"state": "on_trip", "speed_kmh": 5.0, "loaded": False}],
     {"total": 1, "online": 1, "moving": 1}),
]  # fmt: skip


@pytest.mark.parametrize(("rows", "nonzero"), ROWS)
def test_tally_row_by_row(rows, nonzero):
    assert main_counts(tally(rows)) == dict.fromkeys(COUNT_KEYS, 0) | nonzero
