"""Accounts as the UserStore protocol has them, and revocation: a disable or a new password
ends the account's REST tokens at once and its open websockets within seconds; a websocket also
ends when the access token it was opened under expires."""

from __future__ import annotations

import threading

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from api.app import create_app
from api.memory import MemoryUserStore, memory_ports
from api.security import Principal, Role, hash_password, make_user
from tests.api.conftest import PASSWORD, ROLES, Clock, auth, make_settings, make_users, seed

pytestmark = pytest.mark.timeout(60)
NEW_PASSWORD = "another long passphrase"


def user(name: str, role=Role.VIEWER, district=None):
    return make_user(name, role, district, "h")


# --- MemoryUserStore ------------------------------------------------------------------------


def test_the_memory_store_keeps_the_protocol():
    store = MemoryUserStore([user("b"), user("a")])
    assert [u.username for u in store.list()] == ["a", "b"]
    store.add(user("c"))
    with pytest.raises(ValueError, match="already exists"):
        store.add(user("a"))
    changed = store.set_password("a", "h2")
    assert (changed.password_hash, changed.generation) == ("h2", 1)
    disabled = store.set_disabled("a", True)
    assert disabled.disabled and disabled.generation == 2 and store.get("a") == disabled
    assert store.set_disabled("a", False).generation == 3
    with pytest.raises(KeyError):
        store.set_password("nobody", "h")
    with pytest.raises(KeyError):
        store.set_disabled("nobody", True)


def test_the_memory_store_counts_every_concurrent_change():
    store = MemoryUserStore([user("a")])
    threads = [
        threading.Thread(target=lambda: [store.set_password("a", "h") for _ in range(200)])
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.get("a").generation == 800


# --- REST -----------------------------------------------------------------------------------


def login(client, username: str, password: str = PASSWORD):
    return client.post("/api/auth/login", json={"username": username, "password": password})


def bearer(response) -> dict[str, str]:
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def test_disabling_an_account_revokes_its_tokens_at_once(client, app):
    headers = bearer(login(client, "city"))
    assert client.get("/api/alerts", headers=headers).status_code == 200
    app.state.ports.users.set_disabled("city", True)
    assert client.get("/api/alerts", headers=headers).status_code == 401
    assert login(client, "city").status_code == 401  # the right password opens nothing
    app.state.ports.users.set_disabled("city", False)
    assert client.get("/api/alerts", headers=headers).status_code == 401  # still revoked
    assert client.get("/api/alerts", headers=bearer(login(client, "city"))).status_code == 200


def test_a_new_password_revokes_the_tokens_issued_before(client, app):
    headers = bearer(login(client, "liangxi"))
    app.state.ports.users.set_password("liangxi", hash_password(NEW_PASSWORD))
    assert client.get("/api/alerts", headers=headers).status_code == 401
    assert login(client, "liangxi").status_code == 401
    fresh = login(client, "liangxi", NEW_PASSWORD)
    assert client.get("/api/alerts", headers=bearer(fresh)).status_code == 200


def test_a_token_of_another_generation_is_refused(client, app):
    issuer, users = app.state.issuer, app.state.ports.users
    users.set_password("viewer", users.get("viewer").password_hash)  # generation 1
    who = Principal("viewer", ROLES["viewer"][0])
    for generation, code in ((0, 401), (2, 401), (1, 200)):
        token = issuer.issue(who, generation=generation)
        response = client.get("/api/alerts", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == code, generation


def test_a_ticket_is_refused_once_its_account_is_disabled(client, app):
    ticket = client.post("/api/auth/ws-ticket", headers=auth(app, "city")).json()["ticket"]
    app.state.ports.users.set_disabled("city", True)
    with (
        pytest.raises(WebSocketDisconnect) as info,
        client.websocket_connect(f"/ws/live?ticket={ticket}"),
    ):
        pass
    assert info.value.code == 1008


# --- websockets -----------------------------------------------------------------------------


@pytest.fixture
def fast():
    """An app whose sockets re-check their account every 50 ms, on an injected wall clock."""
    clock = Clock()
    application = create_app(
        make_settings(ws_recheck_s=0.05), memory_ports(make_users(), clock=clock), clock
    )
    seed(application)
    with TestClient(application) as test_client:
        yield application, test_client, clock


def closed(ws) -> WebSocketDisconnect:
    """Read frames until the server closes the socket (bounded by the test's timeout)."""
    with pytest.raises(WebSocketDisconnect) as info:
        while True:
            ws.receive_json()
    return info.value


def open_socket(client, headers: dict, path: str = "/ws/live"):
    ticket = client.post("/api/auth/ws-ticket", headers=headers).json()["ticket"]
    return client.websocket_connect(f"{path}?ticket={ticket}")


@pytest.mark.parametrize("path", ["/ws/live", "/ws/alerts"])
@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda users: users.set_disabled("city", True), "account disabled"),
        (lambda users: users.set_password("city", "x"), "password changed"),
    ],
)
def test_an_open_socket_closes_when_its_account_is_revoked(fast, path, change, reason):
    app, client, _ = fast
    with open_socket(client, bearer(login(client, "city")), path) as ws:
        ws.receive_json()
        change(app.state.ports.users)
        gone = closed(ws)
    assert gone.code == 1008 and reason in gone.reason
    assert app.state.hub._per_user == {}


def test_an_open_socket_closes_when_its_access_token_expires(fast):
    app, client, clock = fast
    ttl = app.state.settings.token_ttl_s
    headers = bearer(login(client, "city"))
    clock.now += ttl - 60  # the ticket is fresh, the token it is issued under nearly spent
    with open_socket(client, headers) as ws:
        assert ws.receive_json()["type"] == "hello"
        clock.now += 61
        gone = closed(ws)
    assert gone.code == 1008 and "expired" in gone.reason


def test_a_socket_opened_with_an_access_token_closes_at_its_expiry(fast):
    app, client, clock = fast
    token = login(client, "city").json()["access_token"]
    with client.websocket_connect("/ws/alerts", subprotocols=["landun.v1", f"auth.{token}"]) as ws:
        assert ws.receive_json()["type"] == "snapshot"
        clock.now += app.state.settings.token_ttl_s
        assert "expired" in closed(ws).reason


def test_a_ticket_carries_its_access_tokens_generation_and_expiry(client, app, clock):
    app.state.ports.users.set_password("city", app.state.ports.users.get("city").password_hash)
    token = login(client, "city").json()["access_token"]
    access = app.state.issuer.verify(token)
    clock.now += 600
    headers = {"Authorization": f"Bearer {token}"}
    ticket = client.post("/api/auth/ws-ticket", headers=headers).json()["ticket"]
    grant = app.state.issuer.verify(ticket, ("ws",))
    assert (grant.generation, grant.expires) == (1, access.expires)
    assert grant.expires == clock.now - 600 + app.state.settings.token_ttl_s
