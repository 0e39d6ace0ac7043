"""Permits and contracts must name fences that exist, of the right kind (issue 11): a permit
naming a corridor that does not exist made every trip under it a ``route_deviation``. The API
refuses such a write with 422 naming the entry, the field and the fence, and stores nothing."""

from __future__ import annotations

import pytest

from api.routes.registry import FEW_FENCES
from tests.api.conftest import auth, fence_feature

ADMIN = "admin"


def permit(pid: str, **change) -> dict:
    return {
        "id": pid,
        "site": "site-lx",
        "vehicles": ["LX-1"],
        "terminals": ["term-xs"],
        "corridors": [],
        "valid_from": "2025-01-01T00:00:00+08:00",
        "valid_to": "2025-12-31T23:59:59+08:00",
    } | change


def corridor(fid: str) -> dict:
    line = {"type": "LineString", "coordinates": [[120.30, 31.57], [120.40, 31.57]]}
    return {
        "type": "Feature",
        "id": fid,
        "geometry": line,
        "properties": {"kind": "corridor", "district": "梁溪", "buffer_m": 50},
    }


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"corridors": ["cor-9"]}, "permit 'P-2': corridors: unknown fence 'cor-9'"),
        ({"site": "site-9"}, "permit 'P-2': site: unknown fence 'site-9'"),
        ({"terminals": ["term-xs", "term-9"]}, "permit 'P-2': terminals: unknown fence 'term-9'"),
        (
            {"corridors": ["term-xs"]},
            "permit 'P-2': corridors: fence 'term-xs' is a terminal, not a corridor",
        ),
        ({"site": "term-xs"}, "permit 'P-2': site: fence 'term-xs' is a terminal, not a site"),
    ],
)
def test_a_permit_naming_a_missing_or_wrong_fence_is_refused(client, app, change, problem):
    response = client.put(
        "/api/permits/P-2", json=permit("P-2", **change), headers=auth(app, ADMIN)
    )
    assert response.status_code == 422
    assert response.json()["detail"] == problem
    assert app.state.ports.permits.get("P-2") is None


def test_every_problem_is_named_at_once(client, app):
    body = permit("P-2", site="site-9", corridors=["cor-9", "term-xs"])
    response = client.put("/api/permits/P-2", json=body, headers=auth(app, ADMIN))
    assert response.status_code == 422
    assert response.json()["detail"].split("; ") == [
        "permit 'P-2': site: unknown fence 'site-9'",
        "permit 'P-2': corridors: unknown fence 'cor-9'",
        "permit 'P-2': corridors: fence 'term-xs' is a terminal, not a corridor",
    ]


def test_a_permit_whose_fences_exist_is_stored(client, app):
    app.state.ports.fences.put(corridor("cor-1"))
    body = permit("P-2", corridors=["cor-1"])
    response = client.put("/api/permits/P-2", json=body, headers=auth(app, ADMIN))
    assert response.status_code == 200
    assert app.state.ports.permits.get("P-2")["corridors"] == ["cor-1"]


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"producers": ["prod-9"]}, "contract 'C-2': producers: unknown fence 'prod-9'"),
        ({"plants": ["site-lx"]}, "contract 'C-2': plants: fence 'site-lx' is a site, not a plant"),
    ],
)
def test_a_contract_naming_a_missing_or_wrong_fence_is_refused(client, app, change, problem):
    body = {"id": "C-2", "vehicle": "LX-2", "producers": [], "plants": []} | change
    response = client.put("/api/contracts/C-2", json=body, headers=auth(app, ADMIN))
    assert response.status_code == 422 and response.json()["detail"] == problem
    assert app.state.ports.contracts.get("C-2") is None


def test_a_contract_with_many_producers_is_checked_too(client, app):
    """Past FEW_FENCES references the fences are read once, not one by one: same answer."""
    n = FEW_FENCES + 8
    for i in range(n):
        app.state.ports.fences.put(fence_feature(f"prod-{i}", "producer", "梁溪"))
    app.state.ports.fences.put(fence_feature("plant-1", "plant", "梁溪"))
    producers = [f"prod-{i}" for i in range(n)]
    body = {"id": "C-2", "vehicle": "LX-2", "producers": producers, "plants": ["plant-1"]}
    admin = auth(app, ADMIN)
    assert client.put("/api/contracts/C-2", json=body, headers=admin).status_code == 200
    body["producers"] = [*producers, "prod-x"]
    response = client.put("/api/contracts/C-2", json=body, headers=admin)
    assert response.status_code == 422
    assert response.json()["detail"] == "contract 'C-2': producers: unknown fence 'prod-x'"
    assert app.state.ports.contracts.get("C-2")["producers"] == producers  # the earlier one


# The same contract as registry.json (stream.registry_checks.entry_problems): unknown vehicles and
# dates the file would refuse are refused here too, named (issue 11); a bare date is Beijing
# midnight.
@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"vehicles": ["LX-1", "NOPE-9"]}, "permit 'P-2': vehicles: unknown vehicle 'NOPE-9'"),
        (
            {"valid_from": "2025-12-31T00:00:00+08:00", "valid_to": "2025-01-01T00:00:00+08:00"},
            "permit 'P-2': valid_to: must be after valid_from",
        ),
        (
            {"valid_to": "1767225599"},  # a numeric string is a number: epoch seconds, named
            "permit 'P-2': valid_to: '1767225599' looks like epoch seconds; give ISO 8601 or "
            "epoch ms",
        ),
        ({"valid_from": "June"}, "permit 'P-2': valid_from: not ISO 8601: 'June'"),
    ],
)
def test_a_permit_the_registry_file_would_refuse_is_refused(client, app, change, problem):
    response = client.put(
        "/api/permits/P-2", json=permit("P-2", **change), headers=auth(app, ADMIN)
    )
    assert response.status_code == 422 and response.json()["detail"] == problem
    assert app.state.ports.permits.get("P-2") is None


def test_a_permit_with_bare_dates_is_stored_as_the_registry_file_takes_it(client, app):
    body = permit("P-2", valid_from="2025-01-01", valid_to="2025-12-31")
    response = client.put("/api/permits/P-2", json=body, headers=auth(app, ADMIN))
    assert response.status_code == 200
    assert app.state.ports.permits.get("P-2")["valid_to"] == "2025-12-31"


def test_a_contract_naming_an_unknown_vehicle_is_refused(client, app):
    body = {"id": "C-2", "vehicle": "NOPE-9", "producers": [], "plants": []}
    response = client.put("/api/contracts/C-2", json=body, headers=auth(app, ADMIN))
    assert response.status_code == 422
    assert response.json()["detail"] == "contract 'C-2': vehicle: unknown vehicle 'NOPE-9'"
    assert app.state.ports.contracts.get("C-2") is None
