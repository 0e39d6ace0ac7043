"""District scope asserted on what comes back, route × role, on the memory stores and on the real
ones (Redis for live positions and the bus, PostgreSQL for alerts, reference data, trips and
accounts) (issue 15: `nearest`, the fences and the map config were checked by status code only,
the alerts websocket for one district, and only on the memory stores).

The world is conftest's two-district one (梁溪: LX-1, LX-2, P-LX, C-LX, T-LX, A-LX; 锡山: XS-1,
XS-2, P-XS, C-XS, T-XS, A-XS; fences site-lx, site-xs, term-xs) plus A-LX-XS2, an alert filed
under 梁溪 about 锡山's XS-2 (an alert takes its fence's district, a trip or track its vehicle's:
docs/architecture.md). The tables below say, by hand, which ids each scope gets: they are the
oracle, not a copy of the routes' predicates.

Fences are the map's reference layer and are read whole by everyone signed in (corridors cross
districts: api/routes/fences.py); the table pins that too, so a filter added by mistake shows.
The archive routes (/api/replay/*) are asserted the same way in tests/api/test_replay_routes.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from api.cases import CaseState, may_act
from api.hub import Hub, LiveClient
from api.memory import memory_ports
from api.routes.metrics import Metrics
from api.security import Principal, Role
from tests.api.conftest import (
    DISPATCH,
    LX,
    ROLES,
    XS,
    alert,
    auth,
    frames_until,
    ping,
    seed,
    ticket,
    vehicles_in,
)
from tests.api.worlds import STORES, world_on

# A lost frame would block a receive forever: fail instead of hanging the run.
pytestmark = pytest.mark.timeout(120)

EVERYONE = tuple(ROLES)
CITY = None  # the scope of admin, city, enforce and viewer
ALL_VEHICLES = {"LX-1", "LX-2", "XS-1", "XS-2"}
FENCES = {"site-lx", "site-xs", "term-xs"}

# scope -> ids each list route returns (by hand, from the seed)
VEHICLES = {CITY: ALL_VEHICLES, LX: {"LX-1", "LX-2"}, XS: {"XS-1", "XS-2"}}
PERMITS = {CITY: {"P-LX", "P-XS"}, LX: {"P-LX"}, XS: {"P-XS"}}
CONTRACTS = {CITY: {"C-LX", "C-XS"}, LX: {"C-LX"}, XS: {"C-XS"}}
TRIPS = {CITY: {"T-LX", "T-XS"}, LX: {"T-LX"}, XS: {"T-XS"}}
ALERTS = {CITY: {"A-LX", "A-XS", "A-LX-XS2"}, LX: {"A-LX", "A-LX-XS2"}, XS: {"A-XS"}}
SEED_ALERTS = {"A-LX": ("LX-1", LX), "A-XS": ("XS-1", XS), "A-LX-XS2": ("XS-2", LX)}
EVERY_FENCE = dict.fromkeys((CITY, LX, XS), FENCES)

# Latest positions (conftest.seed: minute 2, lng + 0.002): LX-1 120.302, LX-2 120.312,
# XS-1 120.502, XS-2 120.512, all at lat 31.57. Asked at XS-1's spot, k=2, in order:
NEAREST_XS1 = {CITY: ["XS-1", "XS-2"], LX: ["LX-2", "LX-1"], XS: ["XS-1", "XS-2"]}
AT_XS1 = {"lat": 31.57, "lng": 120.502}


def own(user: str) -> str | None:
    return ROLES[user][1]


def _ids(rows: list[dict], key: str = "id") -> set[str]:
    return {r[key] for r in rows}


def _features(body: dict) -> set[str]:
    return {f["id"] for f in body["features"]}


# The vehicle card (issue 13): a district officer also opens a vehicle an alert raised in their
# district names (A-LX-XS2 names 锡山's XS-2), while that alert is at most 24 h old.
CARDS = {CITY: ALL_VEHICLES, LX: {"LX-1", "LX-2", "XS-2"}, XS: {"XS-1", "XS-2"}}
# The case list of the seed's day (the alerts raised on 2025-06-01, Beijing).
CASE_DAY = {"day": "2025-06-01"}

# (path, params, how to read the ids, table)
LISTS = [
    ("/api/vehicles", {}, _ids, VEHICLES),
    ("/api/permits", {}, _ids, PERMITS),
    ("/api/contracts", {}, _ids, CONTRACTS),
    ("/api/trips", {}, _ids, TRIPS),
    ("/api/alerts", {}, _ids, ALERTS),
    ("/api/cases", CASE_DAY, _ids, ALERTS),
    ("/api/cases", {**CASE_DAY, "overdue": "false"}, _ids, ALERTS),
    # search: "xs" is in 锡山's ids and plates only; "苏b" in every plate
    ("/api/vehicles", {"q": "xs"}, _ids, {CITY: {"XS-1", "XS-2"}, LX: set(), XS: {"XS-1", "XS-2"}}),
    ("/api/vehicles", {"q": "苏b", "state": "on_trip"}, _ids, VEHICLES),
    ("/api/live", {}, lambda rows: _ids(rows, "vehicle"), VEHICLES),
    ("/api/live", {"bbox": "120.0,31.0,121.0,32.0"}, lambda rows: _ids(rows, "vehicle"), VEHICLES),
    ("/api/live/nearest", {**AT_XS1, "k": 200}, lambda rows: _ids(rows, "vehicle"), VEHICLES),
    ("/api/fences", {}, _features, EVERY_FENCE),
    ("/api/fences", {"kind": "site"}, _features, dict.fromkeys(EVERY_FENCE, FENCES - {"term-xs"})),
    ("/api/fences/areas", {}, _features, EVERY_FENCE),
]
# (path, scope the record belongs to, None: everyone's; the body's id key)
OWNED = [
    ("/api/permits/P-LX", LX, "id"),
    ("/api/permits/P-XS", XS, "id"),
    ("/api/contracts/C-LX", LX, "id"),
    ("/api/contracts/C-XS", XS, "id"),
    ("/api/trips/T-LX", LX, "id"),
    ("/api/trips/T-XS", XS, "id"),
    ("/api/alerts/A-LX", LX, "id"),
    ("/api/alerts/A-XS", XS, "id"),
    ("/api/alerts/A-LX-XS2", LX, "id"),
    *((f"/api/fences/{f}", None, "id") for f in sorted(FENCES)),
]
PREFIX_DISTRICT = {"LX": LX, "XS": XS}


def _seeded(app) -> None:
    seed(app)
    app.state.feed.alert(alert("A-LX-XS2", "XS-2", LX, minute=2))


@pytest.fixture(scope="module", params=STORES)
def world(request) -> Iterator[tuple]:
    """The seeded API, read only by the REST tests below."""
    with world_on(request.param, _seeded) as (app, client):
        yield app, client


def get(world, user: str, path: str, **params):
    app, client = world
    return client.get(path, params=params, headers=auth(app, user))


# --- REST -----------------------------------------------------------------------------------


@pytest.mark.parametrize("user", EVERYONE)
@pytest.mark.parametrize(("path", "params", "read", "table"), LISTS)
def test_each_list_holds_exactly_the_callers_scope(world, user, path, params, read, table):
    response = get(world, user, path, **params)
    assert response.status_code == 200, response.text
    assert read(response.json()) == table[own(user)]


@pytest.mark.parametrize("user", EVERYONE)
def test_nearest_answers_from_the_callers_scope_only(world, user):
    # Another district's vehicle may be the nearest: it is still not the caller's to see.
    for k in (1, 2):
        rows = get(world, user, "/api/live/nearest", **AT_XS1, k=k).json()
        assert [p["vehicle"] for p in rows] == NEAREST_XS1[own(user)][:k]


@pytest.mark.parametrize("user", EVERYONE)
def test_counts_cover_the_callers_scope(world, user):
    counts = get(world, user, "/api/live/counts").json()
    assert counts["total"] == len(VEHICLES[own(user)])
    # the seed's vehicles all move at 30 km/h, online (tests/api/test_counts.py: the splits)
    assert counts["online"] == counts["moving"] == counts["total"]
    assert sum(counts["states"].values()) == counts["total"]


@pytest.mark.parametrize("user", EVERYONE)
@pytest.mark.parametrize("vehicle", sorted(ALL_VEHICLES))
def test_the_vehicle_card_is_the_callers_or_not_found(world, user, vehicle):
    response = get(world, user, f"/api/vehicles/{vehicle}")
    if vehicle not in CARDS[own(user)]:
        assert response.status_code == 404, response.text
        assert response.json() == {"detail": f"vehicle {vehicle!r} not found"}
        return
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["id"], body["district"]) == (vehicle, PREFIX_DISTRICT[vehicle[:2]])
    assert body["position"]["vehicle"] == vehicle
    # the alerts on the card are those the caller may see, whatever the vehicle's district
    assert {a["id"] for a in body["alerts"]} == {
        a
        for a, (vid, district) in SEED_ALERTS.items()
        if vid == vehicle and own(user) in (None, district)
    }


@pytest.mark.parametrize("user", EVERYONE)
@pytest.mark.parametrize(("path", "scope", "key"), OWNED)
def test_records_by_id_are_the_callers_or_not_found(world, user, path, scope, key):
    scope = PREFIX_DISTRICT.get(scope, scope)
    response = get(world, user, path)
    ident = path.split("/")[3]
    if scope is not None and own(user) not in (None, scope):
        assert response.status_code == 404, response.text
        what = path.split("/")[2].removesuffix("s")  # vehicles -> vehicle
        assert response.json() == {"detail": f"{what} {ident!r} not found"}  # nothing of it
        return
    assert response.status_code == 200, response.text
    body = response.json()
    assert body[key] == ident


@pytest.mark.parametrize("user", EVERYONE)
@pytest.mark.parametrize("vehicle", sorted(ALL_VEHICLES))
def test_a_vehicles_track_is_for_whoever_may_open_its_card(world, user, vehicle):
    """The track follows the card's rule (issue 13): the 梁溪 officer sees 锡山's XS-2, which a
    梁溪 alert names, and no other 锡山 vehicle."""
    response = get(world, user, f"/api/vehicles/{vehicle}/track")
    if vehicle not in CARDS[own(user)]:
        assert response.status_code == 404, response.text
        assert response.json() == {"detail": f"vehicle {vehicle!r} not found"}  # nothing of it
        return
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["vehicle"] == vehicle
    assert len(body["coordinates"]) == 3  # the seed's three pings, its own


@pytest.mark.parametrize("user", EVERYONE)
def test_who_am_i_and_the_map_config_name_the_caller_and_its_scope(world, user):
    role, district = ROLES[user]
    me = {"username": user, "role": role.value, "district": district}
    assert {k: get(world, user, "/api/auth/me").json()[k] for k in me} == me
    config = get(world, user, "/api/map-config").json()
    assert config["user"] == me  # the page shows who is signed in, and in which district


@pytest.mark.parametrize("user", ("admin", "city", "enforce", "viewer"))
@pytest.mark.parametrize("district", (LX, XS))
def test_city_wide_callers_narrow_to_a_district(world, user, district):
    by_district = {
        "/api/live": ({}, "vehicle", VEHICLES),
        "/api/live/nearest": ({**AT_XS1, "k": 200}, "vehicle", VEHICLES),
        "/api/alerts": ({}, "id", ALERTS),
        "/api/trips": ({}, "id", TRIPS),
    }
    for path, (params, key, table) in by_district.items():
        rows = get(world, user, path, district=district, **params).json()
        assert _ids(rows, key) == table[district], path
    counts = get(world, user, "/api/live/counts", district=district).json()
    assert counts["total"] == len(VEHICLES[district])


@pytest.mark.parametrize("user", ("liangxi", "xishan", "enforce_lx"))
@pytest.mark.parametrize(
    "path",
    [
        "/api/live",
        "/api/live/nearest",
        "/api/live/counts",
        "/api/alerts",
        "/api/trips",
        "/api/cases",
        "/api/vehicles",
    ],
)
def test_a_district_caller_naming_a_district_gets_its_own_or_403(world, user, path):
    district = own(user)
    other = XS if district == LX else LX
    params = AT_XS1 if path.endswith("nearest") else {}
    assert get(world, user, path, district=other, **params).status_code == 403
    mine = get(world, user, path, district=district, **params)
    assert mine.json() == get(world, user, path, **params).json()


# Routes answered elsewhere, and why they hold no district's data.
ELSEWHERE = {
    "/livez": "health, anonymous",
    "/readyz": "health, anonymous",
    "/api/auth/login": "answers the caller's own token",
    "/api/auth/ws-ticket": "the caller's own ticket; the sockets are below",
    "/metrics": "admins only (test_matrix)",
    "/api/cases/reasons": "the dismissal reason codes, no district's data",
    "/api/map/basemap": "the demo's roads (contract 5), no district's data",
    "/api/replay/alerts/{alert_id}/evidence": "tests/api/test_evidence_route.py",
    "/api/replay/track/{vehicle_id}": "tests/api/test_replay_routes.py",
    "/api/replay/who-was-here": "tests/api/test_replay_routes.py",
    "/api/replay/stops": "tests/api/test_replay_routes.py",
    "/api/replay/fences": "tests/api/test_replay_routes.py",
}


def test_every_route_is_in_a_table_or_said_to_be_elsewhere(world):
    """A route added without body-level scope assertions fails here."""
    app, _ = world
    here = {p for p, *_ in LISTS} | {"/api/auth/me", "/api/map-config", "/api/live/counts"}
    templates = {
        "/api/vehicles/{vehicle_id}",
        "/api/vehicles/{vehicle_id}/track",
        "/api/permits/{permit_id}",
        "/api/contracts/{contract_id}",
        "/api/trips/{trip_id}",
        "/api/alerts/{alert_id}",
        "/api/alerts/{alert_id}/case",  # the last test below
        "/api/fences/{fence_id}",
    }
    assert set(app.openapi()["paths"]) - here - templates - set(ELSEWHERE) == set()


# --- websockets -----------------------------------------------------------------------------

WS_USERS = EVERYONE


@pytest.fixture(scope="module", params=STORES)
def socket_world(request) -> Iterator[tuple]:
    """A world of its own for the socket tests, which add positions and alerts; ``filed``
    records every alert's district as the tests file them (the oracle of the snapshots)."""
    with world_on(request.param, _seeded) as (app, client):
        hub = app.state.hub
        assert hub.running, "the hub is not subscribed to the bus"
        filed = {"A-LX": LX, "A-XS": XS, "A-LX-XS2": LX}
        yield app, client, filed


def _last_for(user: str, items: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """``items`` (id, district) reordered so that one of the caller's own comes last: once it
    has arrived, everything published before it has been through the fan-out."""
    mine = [i for i in items if own(user) in (None, i[1])]
    return [i for i in items if i != mine[-1]] + [mine[-1]]


@pytest.mark.parametrize("user", WS_USERS)
def test_live_socket_sends_the_callers_vehicles_and_no_others(socket_world, user):
    app, client, _ = socket_world
    expected = VEHICLES[own(user)]
    with client.websocket_connect(f"/ws/live?ticket={ticket(client, app, user)}") as ws:
        assert ws.receive_json() == {"type": "hello", "user": user, "district": own(user)}
        frames = frames_until(ws, lambda f: f["type"] == "snapshot")
        assert vehicles_in(frames) == expected
        minute = 10 + 10 * WS_USERS.index(user)  # newer than any earlier test's
        order = _last_for(user, [(v, PREFIX_DISTRICT[v[:2]]) for v in sorted(ALL_VEHICLES)])
        for vid, _ in order:
            app.state.feed.position(ping(vid, minute, lng=120.30 if vid[:2] == "LX" else 120.50))
        last = order[-1][0]
        later = frames_until(ws, lambda f: last in vehicles_in([f]))
        assert vehicles_in(later) == expected  # every own vehicle moved, no other
        seen = [f for f in frames + later if f["type"] == "counts"]
        counts = (seen or frames_until(ws, lambda f: f["type"] == "counts"))[-1]["counts"]
        assert counts["total"] == len(expected)


def _events(ws, until: str) -> list[dict]:
    """Alert feed events (``batch`` frames unpacked) until one about alert ``until``."""
    out: list[dict] = []
    while not any(e["alert"]["id"] == until for e in out):
        frame = ws.receive_json()
        out.extend(frame["events"] if frame["type"] == "batch" else [frame])
    return out


@pytest.mark.parametrize("user", WS_USERS)
def test_alert_socket_sends_the_callers_alerts_and_case_changes_and_no_others(socket_world, user):
    app, client, filed = socket_world
    feed, tag = app.state.feed, user.upper().replace("_", "")
    # new alerts: one per district, and one filed under 梁溪 about 锡山's XS-2
    new = [(f"N-{tag}-LX", LX, "LX-1"), (f"N-{tag}-XS", XS, "XS-1"), (f"N-{tag}-X2", LX, "XS-2")]
    with client.websocket_connect(f"/ws/alerts?ticket={ticket(client, app, user)}") as ws:
        snap = ws.receive_json()
        assert snap["type"] == "snapshot"
        assert _ids(snap["alerts"]) == {a for a, d in filed.items() if own(user) in (None, d)}
        vehicle_of = {aid: vid for aid, _, vid in new}
        order = _last_for(user, [(aid, d) for aid, d, _ in new])
        for minute, (aid, district) in enumerate(order, start=30):
            feed.alert(alert(aid, vehicle_of[aid], district, minute=minute))
            filed[aid] = district
        got = _events(ws, order[-1][0])
        mine = {aid for aid, d in order if own(user) in (None, d)}
        assert {(e["type"], e["alert"]["id"]) for e in got} == {("alert", a) for a in mine}
        # case changes: the other district's first, then the caller's own last
        for aid, _ in order:
            response = client.post(
                f"/api/alerts/{aid}/case", json=DISPATCH, headers=auth(app, "city")
            )
            assert response.status_code == 200, response.text
        got = _events(ws, order[-1][0])
        assert {(e["type"], e["alert"]["id"]) for e in got} == {("case", a) for a in mine}


@pytest.mark.parametrize("user", WS_USERS)
def test_alert_socket_resumed_after_a_gap_sends_only_the_callers(socket_world, user):
    """Events published while the caller was away come from the store (``events_after``), not
    the bus: the same scope holds there."""
    app, client, filed = socket_world
    head = app.state.ports.alerts.head()
    tag = f"R{user.upper().replace('_', '')}"
    new = [(f"{tag}-XS", XS, "XS-2"), (f"{tag}-LX", LX, "LX-2"), (f"{tag}-X1", LX, "XS-1")]
    vehicle_of = {aid: vid for aid, _, vid in new}
    order = _last_for(user, [(aid, d) for aid, d, _ in new])
    for minute, (aid, district) in enumerate(order, start=60):
        app.state.feed.alert(alert(aid, vehicle_of[aid], district, minute=minute))
        filed[aid] = district
    url = f"/ws/alerts?after={head}&ticket={ticket(client, app, user)}"
    with client.websocket_connect(url) as ws:
        got = _events(ws, order[-1][0])
    mine = {aid for aid, d in order if own(user) in (None, d)}
    assert {(e["type"], e["alert"]["id"]) for e in got} == {("alert", a) for a in mine}


STORE_CLASSES = {
    "memory": ["MemoryLiveStore", "MemoryBus", "MemoryAlertStore", "MemoryRecordStore"],
    "real": ["RedisLiveStore", "RedisBus", "PgAlertStore", "PgRecordStore"],
}


def test_the_real_world_runs_on_redis_and_postgresql(world, request):
    """The "real" world is the production adapters, not the memory twins, end to end."""
    ports = world[0].state.ports
    names = [type(getattr(ports, p)).__name__ for p in ("live", "bus", "alerts", "fences")]
    assert names == STORE_CLASSES[request.node.callspec.params["world"]]


@pytest.mark.parametrize("user", EVERYONE)
def test_a_case_outside_the_callers_scope_is_not_found_and_left_alone(socket_world, user):
    """Last in the module: it files alerts of its own (recorded in ``filed``)."""
    app, client, filed = socket_world
    tag = f"K{user.upper().replace('_', '')}"
    for district, vid in ((LX, "LX-1"), (XS, "XS-1")):
        aid = f"{tag}-{vid[:2]}"
        app.state.feed.alert(alert(aid, vid, district, minute=90))
        filed[aid] = district
        response = client.post(f"/api/alerts/{aid}/case", json=DISPATCH, headers=auth(app, user))
        stored = app.state.ports.alerts.get(aid)["case"]
        if own(user) not in (None, district):
            assert response.status_code == 404, response.text
            assert response.json() == {"detail": f"alert {aid!r} not found"}
            assert stored["state"] == "open"
        elif may_act(ROLES[user][0], CaseState.DISPATCHED):
            assert response.status_code == 200, response.text
            body = response.json()
            assert body["id"] == aid and body["case"]["history"][-1]["by"] == user
            assert stored["state"] == "dispatched"
        else:
            assert response.status_code == 403, response.text
            assert stored["state"] == "open"


# The live fan-out filters twice: the hub asks only the position's district's clients (and the
# city-wide ones), and each client drops a position outside its scope. Either alone keeps the
# sockets above scoped, so each is held here on its own.


class Recording(LiveClient):
    def offer(self, position, text=None) -> None:
        self.offered = [*getattr(self, "offered", []), position["vehicle"]]
        super().offer(position, text)


def _position(vid: str) -> dict:
    return {"vehicle": vid, "district": PREFIX_DISTRICT[vid[:2]], "lat": 31.57, "lng": 120.3}


def test_a_district_live_client_drops_another_districts_position():
    client = LiveClient(Principal("liangxi", Role.DISTRICT, LX), cap=10)
    client.offer(_position("XS-1"))
    assert client.pending == {}
    client.offer(_position("LX-1"))
    assert set(client.pending) == {"LX-1"}


def test_the_hub_offers_a_position_only_to_its_districts_and_city_wide_clients():
    hub = Hub(memory_ports(), Metrics())
    clients = {
        user: Recording(Principal(user, *ROLES[user]), cap=10)
        for user in ("liangxi", "xishan", "city")
    }
    for client in clients.values():
        hub.add_live(client)
    for vid in ("XS-1", "LX-1", "XS-2"):
        hub._on_position(_position(vid))
    offered = {user: getattr(c, "offered", []) for user, c in clients.items()}
    assert offered == {
        "liangxi": ["LX-1"],
        "xishan": ["XS-1", "XS-2"],
        "city": ["XS-1", "LX-1", "XS-2"],
    }
