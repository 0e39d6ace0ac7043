"""Positions, alerts, trips and fences through the feed and the REST routes."""

from __future__ import annotations

import asyncio
import threading

import httpx
import pytest

from api.feed import FeedError
from api.ports import AlertQuery
from stream.eventtime import parse_ts, to_iso
from tests.api.conftest import BASE_MS, DISPATCH, alert, auth, fence_feature, ping


def test_iso_times_carry_beijing_offset_and_round_trip():
    assert to_iso(1_748_784_605_000) == "2025-06-01T21:30:05+08:00"
    assert to_iso(1_748_784_605_250) == "2025-06-01T21:30:05.250+08:00"
    assert parse_ts("2025-06-01T13:30:05Z") == 1_748_784_605_000
    with pytest.raises(ValueError, match="no UTC offset"):
        parse_ts("2025-06-01T21:30:05")


def test_the_latest_position_only_moves_forward_in_event_time(app):
    feed, live = app.state.feed, app.state.ports.live
    newest = feed.position(ping("LX-1", 10, lat=31.6))
    assert newest["ts"] == to_iso(BASE_MS + 600_000) and newest["district"] == "梁溪"
    assert feed.position(ping("LX-1", 5, lat=31.0)) is None  # a late blind-area point
    assert live.get("LX-1")["lat"] == 31.6
    times = [p["ts"] for p in live.track("LX-1")]
    assert times == sorted(times) and to_iso(BASE_MS + 300_000) in times


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ({"ts": BASE_MS, "lat": 31.5, "lng": 120.3}, "without a vehicle"),
        ({"vehicle": "v", "ts": "2025-06-01T20:00:00", "lat": 31.5, "lng": 120.3}, "no UTC offset"),
        ({"vehicle": "v", "ts": BASE_MS, "lat": float("nan"), "lng": 120.3}, "lat must be finite"),
        ({"vehicle": "v", "ts": BASE_MS, "lat": 31.5, "lng": 190.0}, "lng 190.0 outside"),
        ({"vehicle": "v", "ts": BASE_MS, "lat": 31.5, "lng": 1, "state": "x"}, "unknown state"),
    ],
)
def test_bad_positions_are_refused_with_the_reason(app, raw, problem):
    with pytest.raises(FeedError, match=problem.replace("must be finite", "must be a finite")):
        app.state.feed.position(raw)


def test_display_state_is_derived_when_the_engine_gives_none(app):
    feed = app.state.feed
    assert feed.position(ping("XS-1", 20, loaded="full"))["state"] == "loaded"
    assert feed.position(ping("XS-1", 21, speed_kmh=40))["state"] == "on_trip"
    assert feed.position(ping("XS-1", 22, speed_kmh=0))["state"] == "idle"


def test_bbox_and_nearest(client, app):
    headers = auth(app, "city")
    rows = client.get("/api/live", params={"bbox": "120.29,31.5,120.35,31.6"}, headers=headers)
    assert {p["vehicle"] for p in rows.json()} == {"LX-1", "LX-2"}
    near = client.get(
        "/api/live/nearest", params={"lat": 31.57, "lng": 120.505, "k": 2}, headers=headers
    ).json()
    assert [p["vehicle"] for p in near] == ["XS-1", "XS-2"]
    bad = client.get("/api/live", params={"bbox": "120.4,31.5,120.3,31.6"}, headers=headers)
    assert bad.status_code == 422 and "west<=east" in bad.json()["detail"]


def test_track_is_a_linestring_with_times(client, app):
    body = client.get("/api/vehicles/LX-1/track", headers=auth(app, "liangxi")).json()
    assert len(body["coordinates"]) == len(body["times"]) == 3
    assert body["coordinates"][0] == [120.30, 31.57]
    since = client.get(
        "/api/vehicles/LX-1/track", params={"since": BASE_MS + 60_000}, headers=auth(app, "city")
    ).json()
    assert len(since["times"]) == 2


def test_alert_filters(client, app):
    headers = auth(app, "admin")
    app.state.feed.alert(alert("A-2", "LX-2", "梁溪", minute=30, type="overspeed"))
    rows = client.get("/api/alerts", headers=headers).json()
    assert [a["id"] for a in rows] == ["A-2", "A-XS", "A-LX"]  # newest event time first
    by_type = client.get("/api/alerts", params={"type": "overspeed"}, headers=headers).json()
    assert [a["id"] for a in by_type] == ["A-2"]
    since = client.get(
        "/api/alerts", params={"since": to_iso(BASE_MS + 60_000)}, headers=headers
    ).json()
    assert {a["id"] for a in since} == {"A-2", "A-XS"}
    client.post("/api/alerts/A-2/case", json=DISPATCH, headers=headers)
    state = client.get("/api/alerts", params={"state": "dispatched"}, headers=headers).json()
    assert [a["id"] for a in state] == ["A-2"]
    assert app.state.ports.alerts.query(AlertQuery(district="锡山"))[0]["id"] == "A-XS"


def test_alerts_missing_fields_are_refused(app):
    with pytest.raises(FeedError, match="lacks vehicle"):
        app.state.feed.alert({k: v for k, v in alert("A-9", "v", "梁溪").items() if k != "vehicle"})


def test_fence_crud_round_trips(client, app):
    headers = auth(app, "admin")
    feature = fence_feature("depot-1", "depot", "梁溪")
    assert client.post("/api/fences", json=feature, headers=headers).status_code == 201
    assert client.post("/api/fences", json=feature, headers=headers).status_code == 409
    assert client.get("/api/fences/depot-1", headers=headers).json() == feature
    kinds = client.get("/api/fences", params={"kind": "depot"}, headers=headers).json()
    assert [f["id"] for f in kinds["features"]] == ["depot-1"]
    assert client.delete("/api/fences/depot-1", headers=headers).status_code == 204
    assert client.get("/api/fences/depot-1", headers=headers).status_code == 404


class Rendezvous:
    """A record store whose ``get`` and ``create`` return only once every one of ``parties``
    concurrent requests has had its answer: the worst interleaving, every request's check
    done before any request writes."""

    def __init__(self, store, parties: int):
        self._store = store
        self._barrier = threading.Barrier(parties, timeout=30)

    def __getattr__(self, name):
        return getattr(self._store, name)

    def get(self, record_id):
        found = self._store.get(record_id)
        self._barrier.wait()
        return found

    def create(self, record):
        created = self._store.create(record)
        self._barrier.wait()
        return created


def test_concurrent_creates_of_one_fence_id_give_one_201_and_the_rest_409(app):
    posts = 8
    ports = app.state.ports
    ports.fences = Rendezvous(ports.fences, posts)
    headers = auth(app, "admin")

    async def race():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://landun") as client:
            bodies = [fence_feature("depot-1", "depot", "梁溪") for _ in range(posts)]
            for i, body in enumerate(bodies):
                body["properties"]["name"] = f"depot {i}"
            sent = [client.post("/api/fences", json=b, headers=headers) for b in bodies]
            return await asyncio.gather(*sent)

    responses = asyncio.run(race())
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * (posts - 1)
    [won] = [r.json() for r in responses if r.status_code == 201]
    assert ports.fences._store.get("depot-1") == won  # the winner's fence, not a later one


@pytest.mark.parametrize(
    ("mutate", "problem"),
    [
        (lambda f: f["properties"].update(kind="parking"), "properties.kind 'parking'"),
        (lambda f: f.pop("geometry"), "geometry missing"),
        (lambda f: f.update(type="FeatureCollection"), "must be a GeoJSON Feature"),
        (lambda f: f.update(id=""), "feature id '' must match ^[A-Za-z0-9]"),
    ],
)
def test_invalid_fences_get_422_naming_the_problem(client, app, mutate, problem):
    feature = fence_feature("bad-1", "site", "梁溪")
    mutate(feature)
    response = client.put("/api/fences/bad-1", json=feature, headers=auth(app, "admin"))
    assert response.status_code == 422
    assert problem in response.json()["detail"]


def test_fence_geometry_is_checked_by_the_geofence_loader(client, app):
    feature = fence_feature("bad-2", "corridor", "梁溪")  # a corridor needs a line and buffer_m
    response = client.put("/api/fences/bad-2", json=feature, headers=auth(app, "admin"))
    assert response.status_code == 422 and "bad-2" in response.json()["detail"]


def test_vehicle_writes_are_validated(client, app):
    headers = auth(app, "admin")
    body = {"id": "LX-9", "kind": "tractor", "district": "梁溪"}
    response = client.put("/api/vehicles/LX-9", json=body, headers=headers)
    assert response.status_code == 422
    mismatch = {"id": "LX-8", "kind": "muck", "district": "梁溪"}
    assert client.put("/api/vehicles/LX-9", json=mismatch, headers=headers).status_code == 422
    permit = {
        "id": "P-1",
        "site": "site-lx",
        "valid_from": "2025-01-01T00:00:00+08:00",
        "valid_to": "2025-02-01T00:00:00+08:00",
        "hours": ["25:00-06:00"],
    }
    response = client.put("/api/permits/P-1", json=permit, headers=headers)
    assert response.status_code == 422 and "20:00-06:00" in response.text


def test_a_vehicle_with_a_fresh_alert_shows_as_in_violation(app):
    feed = app.state.feed
    feed.alert(alert("A-V", "XS-2", "锡山", minute=10))
    assert feed.position(ping("XS-2", 12, speed_kmh=30))["state"] == "violation"
    assert feed.position(ping("XS-2", 25, speed_kmh=30))["state"] == "on_trip"  # 10 min later


def test_silent_vehicles_turn_offline_by_event_time(app):
    feed, live = app.state.feed, app.state.ports.live
    feed.position(ping("LX-1", 30, speed_kmh=30))
    assert feed.mark_offline(BASE_MS + 35 * 60_000) == 3  # the others stopped at minute 2
    assert live.get("LX-2")["state"] == "offline" and live.get("LX-1")["state"] == "on_trip"
    assert feed.mark_offline(BASE_MS + 35 * 60_000) == 0
    assert feed.position(ping("LX-2", 36))["state"] == "idle"  # back on air


def test_reference_data_loads_from_the_file_shapes(app):
    fences = {"type": "FeatureCollection", "features": [fence_feature("dep-1", "depot", "滨湖")]}
    registry = {
        "vehicles": [{"id": "BH-1", "kind": "oil", "district": "滨湖"}],
        "permits": [],
        "contracts": [{"id": "C-BH", "vehicle": "BH-1", "producers": [], "plants": []}],
    }
    app.state.feed.load_reference(fences, registry)
    ports = app.state.ports
    assert ports.fences.get("dep-1") and ports.vehicles.get("BH-1") and ports.contracts.get("C-BH")


def test_fence_areas_with_no_fences_or_one_bad_fence(client, app):
    headers = auth(app, "city")
    for fid in [f["id"] for f in app.state.ports.fences.list()]:
        app.state.ports.fences.delete(fid)
    assert client.get("/api/fences/areas", headers=headers).json()["features"] == []
    app.state.feed.load_reference(
        {"features": [fence_feature("ok-1", "depot", "梁溪"), fence_feature("bad", "x", "梁溪")]}
    )
    drawn = client.get("/api/fences/areas", headers=headers).json()["features"]
    assert [f["id"] for f in drawn] == ["ok-1"]


def test_trips_are_listed_newest_first_up_to_the_limit(client, app):
    for hour in (3, 1, 2):
        app.state.ports.trips.put(
            {"id": f"T-{hour}", "vehicle": "LX-1", "status": "delivered",
             "load_ts": f"2025-06-02T2{hour}:00:00+08:00"}
        )  # fmt: skip
    app.state.ports.trips.put(
        {"id": "R-1", "vehicle": "LX-1", "status": "open", "start_ts": "2025-06-02T22:30:00+08:00"}
    )
    rows = client.get("/api/trips?limit=3", headers=auth(app, "city")).json()
    assert [r["id"] for r in rows] == ["T-3", "R-1", "T-2"]


def test_a_vehicle_moved_to_another_district_takes_its_position_with_it(client, app):
    record = {**app.state.ports.vehicles.get("LX-1"), "district": "锡山"}
    assert (
        client.put("/api/vehicles/LX-1", json=record, headers=auth(app, "admin")).status_code == 200
    )

    def seen(user):
        return {p["vehicle"] for p in client.get("/api/live", headers=auth(app, user)).json()}

    assert "LX-1" not in seen("liangxi") and "LX-1" in seen("xishan")
    track = client.get("/api/vehicles/LX-1/track", headers=auth(app, "xishan"))
    assert track.status_code == 200
