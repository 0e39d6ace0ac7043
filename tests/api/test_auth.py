"""Login, tokens, tickets, settings safety, request limits."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from api import passwords
from api.app import default_users
from api.security import (
    AuthError,
    Principal,
    Role,
    TokenIssuer,
    decoy_hash,
    hash_password,
    make_user,
    verify_password,
)
from api.settings import Settings, UnsafeSettingsError
from tests.api.conftest import PASSWORD, auth, make_settings


def test_login_returns_a_token_that_identifies_the_user(client):
    response = client.post("/api/auth/login", json={"username": "liangxi", "password": PASSWORD})
    assert response.status_code == 200
    body = response.json()
    assert body["user"] == {
        "username": "liangxi",
        "role": "district",
        "district": "梁溪",
        "display_name": "",
    }
    me = client.get("/api/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.json()["district"] == "梁溪"


@pytest.mark.parametrize(("username", "password"), [("liangxi", "wrong"), ("nobody", PASSWORD)])
def test_bad_logins_get_one_message(client, username, password):
    response = client.post("/api/auth/login", json={"username": username, "password": password})
    assert response.status_code == 401
    assert response.json()["detail"] == "wrong username or password"


def test_an_unknown_username_costs_a_password_check_too(client, monkeypatch):
    """Same argon2id work whether the user exists or not: no timing oracle for usernames."""
    checked = []
    real = passwords.verify_password

    def spy(password, stored, account="?"):
        checked.append(stored)
        return real(password, stored, account)

    monkeypatch.setattr(passwords, "verify_password", spy)
    for username in ("nobody", "liangxi"):
        response = client.post("/api/auth/login", json={"username": username, "password": "x"})
        assert response.status_code == 401
    assert len(checked) == 2 and all(h.startswith("$argon2id$") for h in checked)
    assert checked[0] == decoy_hash()


def test_login_rejects_unknown_fields(client):
    body = {"username": "admin", "password": PASSWORD, "role": "admin"}
    assert client.post("/api/auth/login", json=body).status_code == 422


def test_tokens_expire(client, app, clock):
    headers = auth(app, "city")
    assert client.get("/api/alerts", headers=headers).status_code == 200
    clock.now += app.state.settings.token_ttl_s + 1
    assert client.get("/api/alerts", headers=headers).status_code == 401


def test_forged_and_garbage_tokens_are_refused(client, clock):
    forger = TokenIssuer("another-secret-of-enough-length!", 3600, 30, clock)
    forged = forger.issue(Principal("admin", Role.ADMIN))
    for token in (forged, "not.a.token", ""):
        headers = {"Authorization": f"Bearer {token}"}
        assert client.get("/api/alerts", headers=headers).status_code == 401


def test_a_websocket_ticket_is_not_an_access_token(client, app):
    ticket = client.post("/api/auth/ws-ticket", headers=auth(app, "city")).json()["ticket"]
    response = client.get("/api/alerts", headers={"Authorization": f"Bearer {ticket}"})
    assert response.status_code == 401


def test_tickets_are_single_use(app, clock):
    issuer = app.state.issuer
    ticket = issuer.issue(Principal("city", Role.CITY), "ws")
    assert issuer.check(ticket, ("ws",)).username == "city"
    with pytest.raises(AuthError, match="already used"):
        issuer.check(ticket, ("ws",))


def test_a_token_dies_with_its_account_or_scope_change(client, app):
    headers = auth(app, "liangxi")
    users = app.state.ports.users._users
    users["liangxi"] = make_user("liangxi", Role.DISTRICT, "锡山", users["liangxi"].password_hash)
    assert client.get("/api/alerts", headers=headers).status_code == 401
    del users["liangxi"]
    assert client.get("/api/alerts", headers=headers).status_code == 401


def test_password_hashes_are_salted_and_verify():
    first, second = hash_password("s3cret"), hash_password("s3cret")
    assert first != second
    assert verify_password("s3cret", first) and verify_password("s3cret", second)
    assert not verify_password("s3cret!", first)
    assert not verify_password("s3cret", "plain-text")


def test_the_unsafe_default_secret_is_refused_outside_demo(monkeypatch):
    monkeypatch.delenv("LANDUN_SECRET_KEY", raising=False)
    with pytest.raises((UnsafeSettingsError, ValidationError), match="LANDUN_SECRET_KEY"):
        Settings()
    with pytest.raises((UnsafeSettingsError, ValidationError), match="shorter than 32"):
        Settings(secret_key="short")
    demo = Settings(demo=True)
    assert demo.secret_key.get_secret_value() != "change-me"


def test_settings_come_from_landun_environment(monkeypatch):
    monkeypatch.setenv("LANDUN_SECRET_KEY", "from-the-environment-0123456789-abcdef")
    monkeypatch.setenv("LANDUN_ALLOWED_ORIGINS", '["https://map.example"]')
    settings = Settings()
    assert settings.secret_key.get_secret_value() == "from-the-environment-0123456789-abcdef"
    assert settings.allowed_origins == ["https://map.example"]


def test_demo_users_exist_only_in_demo_mode():
    assert default_users(make_settings()) == []
    demo = {u.username: u for u in default_users(make_settings(demo=True))}
    assert set(demo) == {"admin", "city", "liangxi", "enforce"}
    assert demo["liangxi"].district == "梁溪" and demo["liangxi"].role is Role.DISTRICT


def test_roles_and_scopes_must_agree():
    with pytest.raises(ValueError, match="needs a district"):
        make_user("x", "district", None, "h")
    with pytest.raises(ValueError, match="city-wide"):
        make_user("x", "city", "梁溪", "h")


def test_request_bodies_over_the_limit_are_refused(client, app):
    big = {"id": "x", "vehicle": "LX-2", "producers": ["p" * 100] * 20_000}
    response = client.put("/api/contracts/x", json=big, headers=auth(app, "admin"))
    assert response.status_code == 413
    assert app.state.ports.contracts.get("x") is None


def test_a_configured_scraper_token_reads_metrics(client, app):
    from pydantic import SecretStr

    app.state.settings.metrics_token = SecretStr("scrape-me-0123456789")
    assert (
        client.get("/metrics", headers={"Authorization": "Bearer scrape-me-0123456789"}).status_code
        == 200
    )
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/metrics", headers=auth(app, "city")).status_code == 403
    app.state.settings.metrics_token = SecretStr("")
    assert client.get("/metrics").status_code == 401  # an empty token opens nothing


def test_demo_accounts_never_shadow_a_users_file_account(tmp_path):
    """LANDUN_DEMO=1 beside a users file used to let the demo's admin (password admin-demo)
    replace the file's admin."""
    import json

    from api.memory import MemoryUserStore

    path = tmp_path / "users.json"
    row = {"username": "admin", "role": "admin", "password_hash": hash_password(PASSWORD)}
    path.write_text(json.dumps([row]))
    store = MemoryUserStore(default_users(make_settings(demo=True, users_file=path)))
    assert verify_password(PASSWORD, store.get("admin").password_hash)
    assert not verify_password("admin-demo", store.get("admin").password_hash)
    assert store.get("city") is not None  # the other demo accounts are still there


@pytest.mark.parametrize(
    ("secret", "problem"),
    [
        ("aaaaaaaaaaaaaaaa", "shorter than 32 characters"),
        ("a" * 40, "too predictable: an estimated 0 bits"),
        ("test-secret-" + "x" * 20, "too predictable"),
        ("abc" * 12, "too predictable"),
    ],
)
def test_short_or_predictable_secrets_are_refused_with_how_to_make_one(secret, problem):
    with pytest.raises((UnsafeSettingsError, ValidationError)) as info:
        Settings(secret_key=secret)
    assert problem in str(info.value)
    assert "secrets.token_urlsafe(32)" in str(info.value)


def test_generated_secrets_pass_the_screen():
    import secrets

    for _ in range(200):
        Settings(secret_key=secrets.token_urlsafe(32))
        Settings(secret_key=secrets.token_hex(16))
