"""A fence a permit or contract names can be neither deleted nor made a kind the naming field
does not allow (issue 11 review: the API answered 204 and left the permit naming nothing, and a
permit whose corridor is missing makes every trip under it a ``route_deviation``). 409 names
each permit and contract and the field; nothing changes. On the memory and PostgreSQL stores."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.db.records import PgRecordStore
from api.memory import memory_ports
from tests.api.conftest import LX, XS, auth, fence_feature, make_settings, make_users

REFERENCE = ("fences", "permits", "contracts")
PERMIT = {
    "id": "P-2",
    "site": "site-lx",
    "vehicles": ["LX-1"],
    "terminals": ["term-xs"],
    "corridors": ["cor-1"],
    "valid_from": "2025-01-01",
    "valid_to": "2025-12-31",
    "hours": [],
}
CONTRACT = {"id": "C-1", "vehicle": "LX-2", "producers": ["prod-1"], "plants": ["plant-1"]}


def corridor(fid: str, kind: str = "corridor") -> dict:
    line = {"type": "LineString", "coordinates": [[120.30, 31.57], [120.40, 31.57]]}
    props = {"kind": kind, "district": LX, "buffer_m": 50}
    if kind != "corridor":
        return fence_feature(fid, kind, LX)
    return {"type": "Feature", "id": fid, "geometry": line, "properties": props}


@pytest.fixture(params=["memory", "postgresql"])
def app(request, clock):
    ports = memory_ports(make_users(), clock=clock)
    if request.param == "postgresql":
        engine = request.getfixturevalue("engine")  # a fresh database (tests/api/db/conftest)
        for kind in REFERENCE:
            setattr(ports, kind, PgRecordStore(engine, kind))
    for f in (
        fence_feature("site-lx", "site", LX),
        fence_feature("term-xs", "terminal", XS, lng=120.52),
        corridor("cor-1"),
        fence_feature("prod-1", "producer", LX, lng=120.31),
        fence_feature("plant-1", "plant", LX, lng=120.35),
        fence_feature("depot-1", "depot", LX, lng=120.25),
    ):
        ports.fences.put(f)
    ports.permits.put(PERMIT)
    ports.contracts.put(CONTRACT)
    return create_app(make_settings(), ports, clock)


@pytest.fixture
def client(app):
    with TestClient(app) as test_client:
        yield test_client


@pytest.mark.parametrize(
    ("fence", "named"),
    [
        ("cor-1", "permit 'P-2' (corridors)"),
        ("site-lx", "permit 'P-2' (site)"),
        ("term-xs", "permit 'P-2' (terminals)"),
        ("prod-1", "contract 'C-1' (producers)"),
        ("plant-1", "contract 'C-1' (plants)"),
    ],
)
def test_a_fence_that_is_named_is_not_deleted(client, app, fence, named):
    before = app.state.ports.fences.get(fence)
    response = client.delete(f"/api/fences/{fence}", headers=auth(app, "admin"))
    assert response.status_code == 409
    assert response.json()["detail"] == (
        f"fence {fence!r} is named by {named}: change or delete them first"
    )
    assert app.state.ports.fences.get(fence) == before


def test_a_fence_nothing_names_is_deleted_and_so_is_one_no_longer_named(client, app):
    headers = auth(app, "admin")
    assert client.delete("/api/fences/depot-1", headers=headers).status_code == 204
    assert client.delete("/api/permits/P-2", headers=headers).status_code == 204
    assert client.delete("/api/fences/cor-1", headers=headers).status_code == 204
    assert app.state.ports.fences.get("cor-1") is None


@pytest.mark.parametrize(
    ("fence", "kind", "status", "detail"),
    [
        (
            "cor-1", "terminal", 409,
            "fence 'cor-1' cannot become a terminal: permit 'P-2': corridors: fence 'cor-1' is a "
            "terminal, not a corridor",
        ),
        (
            "plant-1", "producer", 409,
            "fence 'plant-1' cannot become a producer: contract 'C-1': plants: fence 'plant-1' is "
            "a producer, not a plant",
        ),
        ("term-xs", "transfer", 200, None),  # terminals may be transfers
        ("cor-1", "corridor", 200, None),  # same kind, new shape
        ("depot-1", "site", 200, None),  # named by nothing
    ],
)  # fmt: skip
def test_a_named_fence_keeps_a_kind_its_field_allows(client, app, fence, kind, status, detail):
    before = app.state.ports.fences.get(fence)
    feature = corridor(fence, kind)
    response = client.put(f"/api/fences/{fence}", json=feature, headers=auth(app, "admin"))
    assert response.status_code == status, response.text
    stored = app.state.ports.fences.get(fence)
    if detail is not None:
        assert response.json()["detail"] == detail
        assert stored == before
    else:
        assert stored["properties"]["kind"] == kind
