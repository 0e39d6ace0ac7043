"""/api/replay: every route × every role, by what comes back — which vehicles, which points —
on the memory stores and on PostgreSQL (issue 12).

The world: a three-hour evening (minutes 0-180 from 20:00) around one spot. LX-1 is registered in
梁溪, XS-1 and XS-2 in 锡山, OLD-1 only in the archive's registry (锡山; since removed from the
API's). Alerts raised in 梁溪 for 锡山 vehicles open a window onto them for 梁溪 callers:
XS-1 crossed into 梁溪 at minute 60-65 (an alert the API holds: evidence window 30-75), XS-2 at
minute 120 (only in the archive: 90-130). A-MOVED is filed under 锡山 by the API and under 梁溪
in the archive: the API's word holds, it opens nothing.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.memory import memory_ports
from replay.layout import SourceRange
from replay.writer import write_batch
from stream.eventtime import iso_ts
from tests.api.conftest import (
    BASE_MS,
    LX,
    ROLES,
    XS,
    Clock,
    alert,
    auth,
    make_settings,
    make_users,
    seed,
    vehicle,
)
from tests.replay.archive_world import row

MIN = 60_000
SPOT = (31.57, 120.30)
FROM, TO = iso_ts(BASE_MS), iso_ts(BASE_MS + 180 * MIN)
VEHICLES = ("LX-1", "XS-1", "XS-2", "OLD-1")
EVERYONE = tuple(ROLES)
# (first, last) minute each caller sees of each vehicle over 0-180; None: 404
WHOLE = (0, 180)
SEES = {
    None: dict.fromkeys(VEHICLES, WHOLE),
    LX: {"LX-1": WHOLE, "XS-1": (30, 75), "XS-2": (90, 130), "OLD-1": None},
    XS: {"LX-1": None, "XS-1": WHOLE, "XS-2": WHOLE, "OLD-1": WHOLE},
}


# (id, vehicle, district, minute) of the alerts only the archive holds (no end: one point each)
ARCHIVED_ALERTS = [("A-XS2-LX", "XS-2", LX, 120), ("A-MOVED", "XS-2", LX, 150)]


def sees(user: str, vid: str) -> tuple[int, int] | None:
    return SEES[ROLES[user][1]][vid]


def at_minute(m: int) -> str:
    return iso_ts(BASE_MS + m * MIN)


def write_archive(folder) -> None:
    rows, events = [], []
    for m in range(181):
        for k, vid in enumerate(VEHICLES):
            pos = (SPOT[0] + 0.0001 * k, SPOT[1])
            rows.append(row(vid, BASE_MS + m * MIN, pos, ingest=len(rows), loaded="full"))
    for k, vid in enumerate(VEHICLES):
        ts = BASE_MS + 60 * MIN
        events.append(
            ("stop", {"vehicle": vid, "ts": iso_ts(ts), "ended_ts": iso_ts(ts + 10 * MIN),
                      "lat": SPOT[0] + 0.0001 * k, "lng": SPOT[1], "duration_s": 600.0,
                      "loaded": True, "at_known_place": False})
        )  # fmt: skip
    for vid, district in (("LX-1", LX), ("LX-2", LX), ("XS-1", XS), ("XS-2", XS), ("OLD-1", XS)):
        entry = vehicle(vid, district)
        events.append(
            ("registry_version", {"section": "vehicles", "id": vid, "ts": 0, "entry": entry})
        )
    events += [("alert", alert(a, v, d, minute=m)) for a, v, d, m in ARCHIVED_ALERTS]
    events += [
        ("fence_version", {"id": "F1", "ts": 0, "feature": fence("F1", 120.30)}),
        ("fence_version", {"id": "F1", "ts": BASE_MS + 60 * MIN, "feature": fence("F1", 120.31)}),
        ("fence_version", {"id": "F2", "ts": BASE_MS + 90 * MIN, "feature": fence("F2", 120.32)}),
        ("fence_version", {"id": "F2", "ts": BASE_MS + 120 * MIN, "feature": None}),
    ]
    write_batch(folder, SourceRange(0, len(rows) - 1), rows, events)


def fence(fid: str, lng: float) -> dict:
    return {"type": "Feature", "id": fid, "properties": {"kind": "site", "district": LX},
            "geometry": {"type": "Point", "coordinates": [lng, 31.57]}}  # fmt: skip


def build(ports, folder, clock) -> TestClient:
    app = create_app(make_settings(), ports, clock)
    seed(app)
    app.state.archive_dir = folder
    app.state.feed.alert(alert("A-XS1-LX", "XS-1", LX, minute=60, ended_ts=BASE_MS + 65 * MIN))
    app.state.feed.alert(alert("A-MOVED", "XS-2", XS, minute=150))
    return app


@pytest.fixture(scope="module", params=["memory", "postgresql"])
def world(request, tmp_path_factory) -> Iterator[tuple]:
    """One archive, and the API over it on the memory stores or on PostgreSQL (alerts and the
    registry there; live positions in memory)."""
    folder = tmp_path_factory.mktemp("archive")
    write_archive(folder)
    clock = Clock()
    ports = memory_ports(make_users(), clock=clock)
    closers = []
    if request.param == "postgresql":
        engine, close = _postgres()
        closers.append(close)
        from api.db.alerts import PgAlertStore
        from api.db.records import PgRecordStore

        ports.alerts = PgAlertStore(engine, clock=clock)
        ports.vehicles = PgRecordStore(engine, "vehicles")
    app = build(ports, folder, clock)
    try:
        with TestClient(app) as client:
            yield app, client
    finally:
        for close in closers:
            close()


def _postgres():
    """A fresh migrated database for the module (failing, never skipping, when PostgreSQL is
    down: `make services`)."""
    from api.db import connect
    from api.db.migrate import upgrade
    from tests.services.conftest import create_test_database, drop_test_database, pg_url

    name = create_test_database()
    url = pg_url(name)
    upgrade(url)
    engine = connect(url)

    def close():
        engine.dispose()
        drop_test_database(name)

    return engine, close


def get(world, user, path, **params):
    app, client = world
    return client.get(path, params=params, headers=auth(app, user))


def minutes(times: list[str]) -> list[int]:
    return [int((parse(t) - BASE_MS) // MIN) for t in times]


def parse(text: str) -> int:
    from stream.eventtime import parse_ts

    return parse_ts(text)


@pytest.mark.parametrize("user", EVERYONE)
@pytest.mark.parametrize("vid", VEHICLES)
def test_track_shows_what_the_caller_may_see(world, user, vid):
    response = get(world, user, f"/api/replay/track/{vid}", **{"from": FROM, "to": TO})
    span = sees(user, vid)
    if span is None:
        assert response.status_code == 404, response.text
        assert response.json() == {"detail": f"vehicle {vid!r} not found"}
        return
    assert response.status_code == 200, response.text
    body = response.json()
    line = body["features"][0]["properties"]
    assert minutes(line["datetimes"]) == list(range(span[0], span[1] + 1))
    assert (body["from"], body["to"]) == (at_minute(span[0]), at_minute(span[1]))
    stops = [f for f in body["features"] if f["properties"]["kind"] == "stop"]
    assert len(stops) == (1 if span[0] <= 60 <= span[1] else 0)
    # the archive's alerts, those raised where the caller sees, in what the caller sees
    own = ROLES[user][1]
    want = {
        (aid, m)
        for aid, v, district, m in ARCHIVED_ALERTS
        if v == vid and own in (None, district) and span[0] <= m <= span[1]
    }
    shown = {
        (f["properties"]["id"], minutes([f["properties"]["ts"]])[0])
        for f in body["features"]
        if f["properties"]["kind"] == "alert"
    }
    assert shown == want
    violating = [
        m
        for m, s in zip(minutes(line["datetimes"]), line["state"], strict=True)
        if s == "violating"
    ]
    assert violating == sorted(m for _, m in want)


@pytest.mark.parametrize("user", ("liangxi", "enforce_lx"))
def test_a_window_beyond_the_alert_window_is_clipped_or_not_found(world, user):
    clipped = get(world, user, "/api/replay/track/XS-1", **{"from": at_minute(70), "to": TO})
    assert minutes(clipped.json()["features"][0]["properties"]["datetimes"]) == list(range(70, 76))
    beyond = get(world, user, "/api/replay/track/XS-1", **{"from": at_minute(76), "to": TO})
    assert beyond.status_code == 404
    # the archive's A-MOVED (梁溪) opens nothing: the API files it under 锡山
    late = get(world, user, "/api/replay/track/XS-2", **{"from": at_minute(140), "to": TO})
    assert late.status_code == 404


@pytest.mark.parametrize("user", EVERYONE)
def test_a_vehicle_nobody_registered_is_not_found(world, user):
    response = get(world, user, "/api/replay/track/GHOST-1", **{"from": FROM, "to": TO})
    assert response.status_code == 404


@pytest.mark.parametrize("user", EVERYONE)
def test_who_was_here_holds_only_what_the_caller_may_see(world, user):
    response = get(
        world, user, "/api/replay/who-was-here", lat=SPOT[0], lng=SPOT[1], radius_m=300,
        **{"from": FROM, "to": TO},
    )  # fmt: skip
    assert response.status_code == 200, response.text
    got = {
        h["vehicle"]: (minutes([h["first"], h["last"]]), h["fixes"])
        for h in response.json()["vehicles"]
    }
    want = {
        vid: ([span[0], span[1]], span[1] - span[0] + 1)
        for vid in VEHICLES
        if (span := sees(user, vid)) is not None
    }
    assert got == want


@pytest.mark.parametrize("user", EVERYONE)
def test_who_was_here_in_a_polygon_holds_only_what_the_caller_may_see(world, user):
    lat, lng = SPOT
    square = [[lng - 0.001, lat - 0.001], [lng + 0.001, lat - 0.001], [lng + 0.001, lat + 0.0015],
              [lng - 0.001, lat + 0.0015], [lng - 0.001, lat - 0.001]]  # fmt: skip
    app, client = world
    response = client.post(
        "/api/replay/who-was-here",
        json={"polygon": {"type": "Polygon", "coordinates": [square]}, "from": FROM, "to": TO},
        headers=auth(app, user),
    )
    assert response.status_code == 200, response.text
    got = {h["vehicle"]: h["fixes"] for h in response.json()["vehicles"]}
    want = {v: s[1] - s[0] + 1 for v in VEHICLES if (s := sees(user, v)) is not None}
    assert got == want


@pytest.mark.parametrize("user", EVERYONE)
@pytest.mark.parametrize("vid", VEHICLES)
def test_stops_of_a_vehicle(world, user, vid):
    response = get(world, user, "/api/replay/stops", vehicle=vid, **{"from": FROM, "to": TO})
    span = sees(user, vid)
    if span is None:
        assert response.status_code == 404
        return
    stops = response.json()["stops"]
    # the stop at minute 60-70 overlaps XS-1's window for 梁溪, not XS-2's (90-130)
    assert [(s["vehicle"], s["ts"]) for s in stops] == (
        [(vid, at_minute(60))] if span[0] <= 70 and span[1] >= 60 else []
    )


@pytest.mark.parametrize("user", EVERYONE)
@pytest.mark.parametrize("company", [f"{LX}运输", f"{XS}运输"])
def test_stops_of_a_company(world, user, company):
    response = get(world, user, "/api/replay/stops", company=company, **{"from": FROM, "to": TO})
    members = [
        v for v in VEHICLES if v.startswith("LX" if company.startswith(LX) else ("XS", "OLD"))
    ]
    visible = [v for v in members if sees(user, v) is not None]
    if not visible:
        assert response.status_code == 404
        return
    got = sorted(s["vehicle"] for s in response.json()["stops"])
    assert got == sorted(v for v in visible if sees(user, v)[0] <= 70 and sees(user, v)[1] >= 60)


@pytest.mark.parametrize("user", EVERYONE)
def test_fences_as_they_were(world, user):
    def shown(m):
        body = get(world, user, "/api/replay/fences", at=at_minute(m)).json()
        return [(f["id"], f["geometry"]["coordinates"][0]) for f in body["features"]]

    assert shown(30) == [("F1", 120.30)]
    assert shown(100) == [("F1", 120.31), ("F2", 120.32)]
    assert shown(150) == [("F1", 120.31)]


BAD = [
    ("/api/replay/track/LX-1", {"from": TO, "to": FROM}, "swap"),
    ("/api/replay/track/LX-1", {"from": "yesterday", "to": TO}, "ISO 8601"),
    (
        "/api/replay/track/LX-1",
        {"from": FROM, "to": iso_ts(BASE_MS + 40 * 86_400_000)},
        "at most a month",
    ),
    ("/api/replay/track/LX-1", {"from": FROM, "to": TO, "limit": 0}, "from 1 to"),
    ("/api/replay/track/LX-1", {"from": FROM, "to": TO, "cursor": "x"}, "without a cursor"),
    (
        "/api/replay/who-was-here",
        {"from": FROM, "to": TO, "lat": 31.5, "lng": 120.3, "radius_m": 9000},
        "at most 5000",
    ),
    ("/api/replay/stops", {"from": FROM, "to": TO}, "vehicle or company"),
    ("/api/replay/fences", {"at": "noon"}, "ISO 8601"),
]


@pytest.mark.parametrize(("path", "params", "hint"), BAD)
def test_a_bad_request_is_422_saying_why(world, path, params, hint):
    response = get(world, "liangxi", path, **params)
    assert response.status_code == 422
    assert hint in response.json()["detail"], response.json()


def test_a_huge_polygon_is_422(world):
    app, client = world
    box = [[120.0, 31.4], [120.2, 31.4], [120.2, 31.6], [120.0, 31.6], [120.0, 31.4]]
    response = client.post(
        "/api/replay/who-was-here",
        json={"polygon": {"type": "Polygon", "coordinates": [box]}, "from": FROM, "to": TO},
        headers=auth(app, "city"),
    )
    assert response.status_code == 422 and "km²" in response.json()["detail"]


def test_a_month_long_window_comes_in_pages(world):
    """31 days is allowed: the answer is a page and a cursor, never the whole month at once."""
    month = {"from": iso_ts(BASE_MS - 30 * 86_400_000), "to": TO, "limit": 100}
    seen, cursor = [], None
    while True:
        page = get(
            world,
            "city",
            "/api/replay/track/LX-1",
            **month,
            **({"cursor": cursor} if cursor else {}),
        )
        assert page.status_code == 200
        body = page.json()
        seen += body["features"][0]["properties"]["datetimes"]
        assert len(body["features"][0]["properties"]["datetimes"]) <= 100
        cursor = body["next"]
        if cursor is None:
            break
    assert minutes(seen) == list(range(181))


@pytest.mark.parametrize(
    "path",
    [
        "/api/replay/track/LX-1",
        "/api/replay/who-was-here",
        "/api/replay/stops",
        "/api/replay/fences",
    ],
)
def test_anonymous_is_refused(world, path):
    _, client = world
    response = client.get(path, params={"from": FROM, "to": TO})
    assert response.status_code == 401


def test_no_archive_here_is_503(world, tmp_path):
    app, client = world
    saved = app.state.archive_dir
    app.state.archive_dir = tmp_path / "none"
    try:
        response = client.get(
            "/api/replay/track/LX-1", params={"from": FROM, "to": TO}, headers=auth(app, "city")
        )
    finally:
        app.state.archive_dir = saved
    assert response.status_code == 503 and "LANDUN_ARCHIVE_DIR" in response.json()["detail"]
