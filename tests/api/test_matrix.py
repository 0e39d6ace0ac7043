"""Every route × every role: allowed, or 401/403/404 — and never another district's data."""

from __future__ import annotations

import pytest

from tests.api.conftest import DISPATCH, LX, ROLES, XS, auth, fence_feature, vehicle

EVERYONE = tuple(ROLES)
ANON = None
LX_SCOPED = ("liangxi", "enforce_lx")  # see only 梁溪
XS_SCOPED = ("xishan",)  # sees only 锡山

READS = [
    "/api/auth/me",
    "/api/map-config",
    "/api/fences",
    "/api/fences/areas",
    "/api/fences/site-xs",
    "/api/vehicles",
    "/api/permits",
    "/api/contracts",
    "/api/live",
    "/api/live/counts",
    "/api/live/nearest?lat=31.57&lng=120.30",
    "/api/trips",
    "/api/alerts",
]
# Resources of one district, fetched by id: (path, district it belongs to).
OWNED = [
    ("/api/vehicles/LX-1", LX),
    ("/api/vehicles/XS-1", XS),
    ("/api/vehicles/LX-1/track", LX),
    ("/api/vehicles/XS-1/track", XS),
    ("/api/permits/P-LX", LX),
    ("/api/permits/P-XS", XS),
    ("/api/contracts/C-LX", LX),
    ("/api/contracts/C-XS", XS),
    ("/api/trips/T-LX", LX),
    ("/api/trips/T-XS", XS),
    ("/api/alerts/A-LX", LX),
    ("/api/alerts/A-XS", XS),
]


def _sees(user: str, district: str) -> bool:
    own = ROLES[user][1]
    return own is None or own == district


@pytest.mark.parametrize("path", ["/livez", "/readyz", "/", "/static/index.html"])
def test_anonymous_may_reach_health_and_the_login_page(reader, path):
    _, client = reader
    assert client.get(path).status_code == 200


@pytest.mark.parametrize("path", READS + [p for p, _ in OWNED] + ["/metrics"])
def test_anonymous_is_refused_everything_else(reader, path):
    _, client = reader
    response = client.get(path)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("user", EVERYONE)
@pytest.mark.parametrize("path", READS)
def test_every_role_reads_lists(reader, user, path):
    app, client = reader
    assert client.get(path, headers=auth(app, user)).status_code == 200


@pytest.mark.parametrize("user", EVERYONE)
@pytest.mark.parametrize(("path", "district"), OWNED)
def test_records_of_another_district_are_not_found(reader, user, path, district):
    app, client = reader
    response = client.get(path, headers=auth(app, user))
    assert response.status_code == (200 if _sees(user, district) else 404)


@pytest.mark.parametrize("user", EVERYONE)
def test_lists_hold_only_the_callers_district(reader, user):
    app, client = reader
    headers = auth(app, user)
    own = ROLES[user][1]
    ids = {
        path: {
            r["id"] if "id" in r else r["vehicle"] for r in client.get(path, headers=headers).json()
        }
        for path in ("/api/vehicles", "/api/permits", "/api/contracts", "/api/trips", "/api/alerts")
    }
    ids["/api/live"] = {p["vehicle"] for p in client.get("/api/live", headers=headers).json()}
    everything = set().union(*ids.values())
    if own is None:
        assert {"LX-1", "XS-1", "P-LX", "P-XS", "C-XS", "T-XS", "A-XS"} <= everything
    else:
        prefix = "LX" if own == LX else "XS"
        assert everything and all(prefix in i.split("-") for i in everything), everything
    counts = client.get("/api/live/counts", headers=headers).json()
    assert counts["total"] == (4 if own is None else 2)


@pytest.mark.parametrize("user", LX_SCOPED + XS_SCOPED)
@pytest.mark.parametrize("path", ["/api/live", "/api/alerts", "/api/trips", "/api/live/counts"])
def test_a_district_user_cannot_ask_for_another_district(reader, user, path):
    app, client = reader
    other = XS if ROLES[user][1] == LX else LX
    response = client.get(path, params={"district": other}, headers=auth(app, user))
    assert response.status_code == 403


@pytest.mark.parametrize("user", ("admin", "city", "viewer"))
def test_city_wide_users_may_filter_by_district(reader, user):
    app, client = reader
    rows = client.get("/api/live", params={"district": XS}, headers=auth(app, user)).json()
    assert {p["vehicle"] for p in rows} == {"XS-1", "XS-2"}


WRITES = [
    ("post", "/api/fences", fence_feature("new-fence", "depot", LX), 201),
    ("put", "/api/fences/site-lx", fence_feature("site-lx", "site", LX), 200),
    # P-XS names it: an admin gets as far as the 409 (issue 11 review), anyone else not
    ("delete", "/api/fences/site-xs", None, 409),
    ("put", "/api/vehicles/LX-9", vehicle("LX-9", LX), 200),
    ("delete", "/api/vehicles/XS-2", None, 204),
    (
        "put",
        "/api/permits/P-NEW",
        {
            "id": "P-NEW",
            "site": "site-lx",
            "valid_from": "2025-01-01T00:00:00+08:00",
            "valid_to": "2025-02-01T00:00:00+08:00",
        },
        200,
    ),
    ("delete", "/api/permits/P-XS", None, 204),
    ("put", "/api/contracts/C-NEW", {"id": "C-NEW", "vehicle": "LX-2"}, 200),
    ("delete", "/api/contracts/C-XS", None, 204),
]


@pytest.mark.parametrize("user", (*EVERYONE, ANON))
@pytest.mark.parametrize(("method", "path", "body", "ok"), WRITES)
def test_only_admins_write_reference_data(client, app, user, method, path, body, ok):
    kwargs = {"json": body} if body is not None else {}
    response = client.request(method.upper(), path, headers=auth(app, user), **kwargs)
    expected = ok if user == "admin" else (401 if user is None else 403)
    assert response.status_code == expected, response.text


CASE_ACTORS = {"admin", "city", "liangxi", "enforce", "enforce_lx"}


@pytest.mark.parametrize("user", (*EVERYONE, ANON))
@pytest.mark.parametrize("alert_id", ["A-LX", "A-XS"])
def test_who_may_dispatch_which_alert(client, app, user, alert_id):
    response = client.post(f"/api/alerts/{alert_id}/case", json=DISPATCH, headers=auth(app, user))
    district = LX if alert_id == "A-LX" else XS
    if user is None:
        assert response.status_code == 401
    elif not _sees(user, district):
        assert response.status_code == 404
    elif user == "xishan" or user in CASE_ACTORS:
        assert response.status_code == 200
        assert response.json()["case"]["history"][-1]["by"] == user
    else:
        assert response.status_code == 403
    state = app.state.ports.alerts.get(alert_id)["case"]["state"]
    assert state == ("dispatched" if response.status_code == 200 else "open")


@pytest.mark.parametrize("user", EVERYONE)
def test_metrics_are_for_admins(reader, user):
    app, client = reader
    response = client.get("/metrics", headers=auth(app, user))
    assert response.status_code == (200 if user == "admin" else 403)
    if user == "admin":
        assert "landun_http_requests" in response.text
