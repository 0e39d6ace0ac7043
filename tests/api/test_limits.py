"""What an attacker with an admin's or any user's token tried: oversized fences, a fence areas
request rebuilt on every call, and ids holding slashes, control characters or bidi marks."""

from __future__ import annotations

import pytest

from api.ids import ID_PATTERN
from api.routes import fences as fence_routes
from tests.api.conftest import auth, fence_feature, vehicle

ADMIN = "admin"


def ring(n: int, lng=120.30, lat=31.57, half=0.01) -> list:
    """A closed ring of ``n`` vertices around a square of side ``2 * half`` degrees."""
    import math

    points = [
        [
            lng + half * math.cos(2 * math.pi * i / (n - 1)),
            lat + half * math.sin(2 * math.pi * i / (n - 1)),
        ]
        for i in range(n - 1)
    ]
    return [points + [points[0]]]


def put_fence(client, app, feature):
    return client.put(f"/api/fences/{feature['id']}", json=feature, headers=auth(app, ADMIN))


def test_a_fence_over_the_vertex_limit_is_refused_naming_it(client, app):
    app.state.settings.fence_max_vertices = 100
    feature = fence_feature("big-1", "site", "梁溪")
    feature["geometry"]["coordinates"] = ring(101)
    response = put_fence(client, app, feature)
    assert response.status_code == 422
    assert "101 vertices, over the limit of 100" in response.json()["detail"]
    assert "LANDUN_FENCE_MAX_VERTICES" in response.json()["detail"]
    feature["geometry"]["coordinates"] = ring(100)
    assert put_fence(client, app, feature).status_code == 200


@pytest.mark.parametrize(
    ("change", "across"),
    [
        (lambda f: f["geometry"].update(coordinates=ring(50, half=1.0)), "km across"),
        (
            lambda f: f.update(
                geometry={"type": "LineString", "coordinates": [[120.3, 31.5], [120.31, 31.5]]},
                properties={**f["properties"], "kind": "corridor", "buffer_m": 60_000},
            ),
            "buffer and radius included",
        ),
        (
            lambda f: f.update(
                geometry={"type": "Point", "coordinates": [120.3, 31.5]},
                properties={**f["properties"], "kind": "producer", "radius_m": 1e9},
            ),
            "LANDUN_FENCE_MAX_EXTENT_KM",
        ),
    ],
)
def test_a_fence_over_the_extent_limit_is_refused_naming_it(client, app, change, across):
    feature = fence_feature("wide-1", "site", "梁溪")
    change(feature)
    response = put_fence(client, app, feature)
    assert response.status_code == 422
    assert "over the limit of 100 km" in response.json()["detail"]
    assert across in response.json()["detail"]


def test_hostile_geometry_nesting_is_refused(client, app):
    feature = fence_feature("deep-1", "site", "梁溪")
    deep = [[120.3, 31.5]]
    for _ in range(50):
        deep = [deep]
    feature["geometry"] = {"type": "MultiPolygon", "coordinates": deep}
    response = put_fence(client, app, feature)
    assert response.status_code == 422 and "nested too deeply" in response.json()["detail"]


def test_fence_areas_are_built_once_per_fence_set(client, app, monkeypatch):
    loads = []
    real = fence_routes.load_fences

    def counting(collection):
        loads.append(len(collection["features"]))
        return real(collection)

    monkeypatch.setattr(fence_routes, "load_fences", counting)
    headers = auth(app, "city")
    first = client.get("/api/fences/areas", headers=headers)
    second = client.get("/api/fences/areas", headers=headers)
    assert first.status_code == second.status_code == 200
    assert first.content == second.content and len(loads) == 1
    etag = first.headers["etag"]
    again = client.get("/api/fences/areas", headers=headers | {"If-None-Match": etag})
    assert again.status_code == 304 and len(loads) == 1
    assert put_fence(client, app, fence_feature("site-new", "site", "梁溪")).status_code == 200
    third = client.get("/api/fences/areas", headers=headers)
    assert "site-new" in {f["id"] for f in third.json()["features"]} and len(loads) == 3
    # A change that did not pass through this process (another replica, the database).
    app.state.ports.fences.delete("site-new")
    fourth = client.get("/api/fences/areas", headers=headers)
    assert "site-new" not in {f["id"] for f in fourth.json()["features"]}
    assert fourth.headers["etag"] == etag


BAD_IDS = ["a/b", "a%00b", "a%0D%0Ab", "a%E2%80%AEb", "a%20b", "-a", ".hidden", "x" * 129, "车1"]


@pytest.mark.parametrize("bad", BAD_IDS)
@pytest.mark.parametrize(
    "path", ["/api/fences/{}", "/api/vehicles/{}", "/api/permits/{}", "/api/contracts/{}"]
)
def test_ids_in_paths_must_match_the_pattern(client, app, path, bad):
    response = client.delete(path.format(bad), headers=auth(app, ADMIN))
    if bad == "a/b":  # a slash never reaches the route: another path, 404 or 405
        assert response.status_code in (404, 405)
        return
    assert response.status_code == 422
    assert ID_PATTERN in str(response.json()["detail"])


@pytest.mark.parametrize("bad", ["a/b", "a\x00b", "a\r\nb", "a\u202eb", "a b", "x" * 129])
def test_ids_in_bodies_must_match_the_pattern(client, app, bad):
    admin = auth(app, ADMIN)
    car = vehicle("V-1", "梁溪") | {"id": bad}
    assert client.put("/api/vehicles/V-1", json=car, headers=admin).status_code == 422
    permit = {
        "id": "P-1",
        "site": bad,
        "vehicles": [],
        "valid_from": "2025-01-01T00:00:00+08:00",
        "valid_to": "2025-12-31T00:00:00+08:00",
    }
    response = client.put("/api/permits/P-1", json=permit, headers=admin)
    assert response.status_code == 422 and ID_PATTERN in str(response.json()["detail"])
    contract = {"id": "C-1", "vehicle": "LX-2", "producers": [bad], "plants": []}
    assert client.put("/api/contracts/C-1", json=contract, headers=admin).status_code == 422
    fence = fence_feature("F-1", "site", "梁溪") | {"id": bad}
    response = client.post("/api/fences", json=fence, headers=admin)
    assert response.status_code == 422 and ID_PATTERN in response.json()["detail"]


def test_ids_of_the_pattern_are_accepted(client, app):
    admin = auth(app, ADMIN)
    name = "V-1.2_x:y"
    car = vehicle(name, "梁溪")
    assert client.put(f"/api/vehicles/{name}", json=car, headers=admin).status_code == 200
    assert client.get(f"/api/vehicles/{name}", headers=admin).json()["id"] == name
