"""Factories and fixtures for the API tests: a small two-district world and one user per role."""

from __future__ import annotations

import functools
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.memory import memory_ports
from api.ports import Ports
from api.security import Principal, Role, hash_password, make_user
from api.settings import Settings

LX, XS = "梁溪", "锡山"
BASE_MS = 1_748_779_200_000  # 2025-06-01T20:00:00+08:00

# username -> (role, district); the matrix tests iterate over these.
ROLES = {
    "admin": (Role.ADMIN, None),
    "city": (Role.CITY, None),
    "liangxi": (Role.DISTRICT, LX),
    "xishan": (Role.DISTRICT, XS),
    "enforce": (Role.ENFORCEMENT, None),
    "enforce_lx": (Role.ENFORCEMENT, LX),
    "viewer": (Role.VIEWER, None),
}
PASSWORD = "correct horse battery staple"
SECRET = "qN4-vX8_tL2zR7kW0pJ5mC9yH3bF6dG1sA"  # random-looking: passes the entropy screen


@functools.cache
def _password_hash() -> str:
    return hash_password(PASSWORD)  # argon2id is slow on purpose: hash once per session


def make_users():
    return [make_user(name, role, d, _password_hash()) for name, (role, d) in ROLES.items()]


def square(lng: float, lat: float, half: float = 0.002) -> list:
    ring = [
        [lng - half, lat - half],
        [lng + half, lat - half],
        [lng + half, lat + half],
        [lng - half, lat + half],
        [lng - half, lat - half],
    ]
    return [ring]


def fence_feature(fid: str, kind: str, district: str, lng=120.30, lat=31.57) -> dict:
    return {
        "type": "Feature",
        "id": fid,
        "geometry": {"type": "Polygon", "coordinates": square(lng, lat)},
        "properties": {"kind": kind, "name": fid, "district": district, "datum": "wgs84"},
    }


def vehicle(vid: str, district: str, kind: str = "muck") -> dict:
    return {
        "id": vid,
        "kind": kind,
        "company": f"{district}运输",
        "district": district,
        "terminal_phone": "013800000000",
        "plate": f"苏B{vid}",
    }


def ping(vehicle_id: str, minute: int, lat=31.57, lng=120.30, **extra) -> dict:
    return {"vehicle": vehicle_id, "ts": BASE_MS + minute * 60_000, "lat": lat, "lng": lng} | extra


def alert(aid: str, vehicle_id: str, district: str, minute: int = 0, **extra) -> dict:
    return {
        "id": aid,
        "type": "suspected_dumping",
        "vehicle": vehicle_id,
        "district": district,
        "severity": "high",
        "ts": BASE_MS + minute * 60_000,
        "ended_ts": None,
        "lat": 31.57,
        "lng": 120.30,
        "fence": None,
        "permit": None,
        "trip": None,
        "late": False,
        "evidence": {"rule": "stop>=5min loaded", "thresholds": {"min_s": 300}, "pings": []},
    } | extra


def seed(app) -> None:
    """Two districts' worth of everything: 梁溪 (LX-*) and 锡山 (XS-*)."""
    ports: Ports = app.state.ports
    feed = app.state.feed
    for f in (
        fence_feature("site-lx", "site", LX),
        fence_feature("site-xs", "site", XS, lng=120.50),
        fence_feature("term-xs", "terminal", XS, lng=120.52),
    ):
        ports.fences.put(f)
    for v in (vehicle("LX-1", LX), vehicle("LX-2", LX, "kitchen")):
        ports.vehicles.put(v)
    for v in (vehicle("XS-1", XS), vehicle("XS-2", XS, "kitchen")):
        ports.vehicles.put(v)
    ports.permits.put(_permit("P-LX", "site-lx", ["LX-1"]))
    ports.permits.put(_permit("P-XS", "site-xs", ["XS-1"]))
    ports.contracts.put({"id": "C-LX", "vehicle": "LX-2", "producers": [], "plants": []})
    ports.contracts.put({"id": "C-XS", "vehicle": "XS-2", "producers": [], "plants": []})
    ports.trips.put({"id": "T-LX", "vehicle": "LX-1", "status": "open"})
    ports.trips.put({"id": "T-XS", "vehicle": "XS-1", "status": "open"})
    for vid, lng in (("LX-1", 120.30), ("LX-2", 120.31), ("XS-1", 120.50), ("XS-2", 120.51)):
        for minute in range(3):
            feed.position(ping(vid, minute, lng=lng + minute * 0.001, speed_kmh=30))
    feed.alert(alert("A-LX", "LX-1", LX))
    feed.alert(alert("A-XS", "XS-1", XS, minute=1))


def _permit(pid: str, site: str, vehicles: list[str]) -> dict:
    return {
        "id": pid,
        "site": site,
        "vehicles": vehicles,
        "terminals": ["term-xs"],
        "corridors": [],
        "valid_from": "2025-01-01T00:00:00+08:00",
        "valid_to": "2025-12-31T23:59:59+08:00",
        "hours": ["20:00-06:00"],
    }


# A complete dispatch form (issue 13: team or officer, and a deadline after the clock's now).
DISPATCH = {"state": "dispatched", "assignee": "三中队", "deadline": "2030-01-01T00:00:00+08:00"}


class Clock:
    """A settable wall clock (epoch seconds)."""

    def __init__(self, now: float = 1_750_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def make_settings(**overrides) -> Settings:
    # no offline sweep unless a test asks: its seeds sit minutes apart in data time
    values = {"secret_key": SECRET, "ws_flush_ms": 0, "offline_sweep_s": 0} | overrides
    return Settings(**values)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app(clock):
    application = create_app(make_settings(), memory_ports(make_users(), clock=clock), clock)
    seed(application)
    return application


@pytest.fixture
def client(app) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def reader() -> Iterator[tuple]:
    """One seeded app and client shared by a module's read-only tests (faster than one each)."""
    ticking = Clock()
    application = create_app(make_settings(), memory_ports(make_users(), clock=ticking), ticking)
    seed(application)
    with TestClient(application) as test_client:
        yield application, test_client


def token_for(app, username: str) -> str:
    role, district = ROLES[username]
    return app.state.issuer.issue(Principal(username, role, district))


def auth(app, username: str | None) -> dict[str, str]:
    """Authorization headers for ``username`` (None: anonymous)."""
    return {} if username is None else {"Authorization": f"Bearer {token_for(app, username)}"}


def ticket(client, app, user: str) -> str:
    """A websocket ticket for ``user``."""
    return client.post("/api/auth/ws-ticket", headers=auth(app, user)).json()["ticket"]


def frames_until(ws, predicate, limit: int = 200) -> list[dict]:
    """Receive frames until one satisfies ``predicate``; return them all (fails after limit)."""
    seen = []
    for _ in range(limit):
        frame = ws.receive_json()
        seen.append(frame)
        if predicate(frame):
            return seen
    raise AssertionError(f"no matching frame in {seen}")


def vehicles_in(frames) -> set[str]:
    """The vehicles of the snapshot and position frames among ``frames``."""
    return {
        p["vehicle"] for f in frames if f["type"] in ("snapshot", "positions") for p in f["items"]
    }
