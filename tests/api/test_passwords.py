"""Password hashes: argon2id at OWASP's parameters, weaker stored hashes refused, and the bounded
pool that keeps password checks away from the event loop and the shared thread pool."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import threading

import argon2
import httpx
import pytest

from api import passwords
from api.app import create_app
from api.memory import memory_ports
from api.passwords import PasswordPool, PasswordPoolBusy, check_policy, hash_password
from api.security import users_from_file, verify_password
from tests.api.conftest import PASSWORD, Clock, auth, make_settings, make_users, seed

pytestmark = pytest.mark.timeout(120)


def scrypt_hash(password: str, n: int, r: int = 8, p: int = 1) -> str:
    salt = b"0123456789abcdef"
    digest = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=32, maxmem=2**28)
    b64 = base64.b64encode
    return f"scrypt${n}${r}${p}${b64(salt).decode()}${b64(digest).decode()}"


def argon2_hash(password: str, **params) -> str:
    values = {"time_cost": 2, "memory_cost": 19 * 1024, "parallelism": 1, "type": argon2.Type.ID}
    return argon2.PasswordHasher(**(values | params)).hash(password)


def test_new_hashes_are_argon2id_at_owasp_parameters():
    stored = hash_password("s3cret-passphrase")
    params = argon2.extract_parameters(stored)
    assert params.type is argon2.Type.ID
    assert params.memory_cost >= 19 * 1024 and params.time_cost >= 2 and params.parallelism >= 1
    assert verify_password("s3cret-passphrase", stored)


@pytest.mark.parametrize(
    ("stored", "problem"),
    [
        (scrypt_hash("pw", n=2), "scrypt N=2 r=8 p=1 is below"),
        (scrypt_hash("pw", n=2**14), "scrypt N=16384"),
        (argon2_hash("pw", memory_cost=8 * 1024), "m=8192 KiB t=2 is below"),
        (argon2_hash("pw", time_cost=1), "t=1 is below"),
        (argon2_hash("pw", type=argon2.Type.I), "argon2 variant i"),
        ("pw", "unknown password hash scheme"),
        ("$2b$12$abcdefghijklmnopqrstuu", "unknown password hash scheme"),
    ],
)
def test_weaker_or_unknown_stored_hashes_never_verify(stored, problem, caplog):
    with pytest.raises(passwords.WeakHashError, match=problem):
        check_policy(stored)
    with caplog.at_level(logging.ERROR, logger="api.passwords"):
        assert not verify_password("pw", stored)  # the right password, and still refused
    assert "password hash refused" in caplog.text and "landun users passwd" in caplog.text


def test_scrypt_at_the_policy_still_verifies():
    stored = scrypt_hash("pw", n=2**17)
    check_policy(stored)
    assert verify_password("pw", stored) and not verify_password("pw!", stored)


def test_a_users_file_with_a_weak_hash_is_refused_at_start(tmp_path):
    path = tmp_path / "users.json"
    row = {"username": "admin", "role": "admin", "password_hash": scrypt_hash("pw", 2)}
    path.write_text(json.dumps([row]))
    with pytest.raises(ValueError, match=r"'admin': password hash refused \(scrypt N=2"):
        users_from_file(path)


def test_a_weak_stored_hash_fails_the_login_like_a_wrong_password(client, app, caplog):
    users = app.state.ports.users
    users.set_password("viewer", scrypt_hash(PASSWORD, n=2))
    with caplog.at_level(logging.ERROR, logger="api.passwords"):
        response = client.post("/api/auth/login", json={"username": "viewer", "password": PASSWORD})
    assert response.status_code == 401
    assert "account 'viewer': password hash refused" in caplog.text


def test_the_pool_runs_at_most_its_workers_and_refuses_past_its_line(monkeypatch):
    asyncio.run(_pool_scenario(monkeypatch))


async def _pool_scenario(monkeypatch) -> None:
    release = threading.Event()
    running, most = [0], [0]
    lock = threading.Lock()

    def slow(password, stored, account="?"):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        release.wait(30)
        with lock:
            running[0] -= 1
        return True

    monkeypatch.setattr(passwords, "verify_password", slow)
    pool = PasswordPool(workers=2, queue=3)
    checks = [asyncio.ensure_future(pool.verify("pw", "h")) for _ in range(5)]
    await asyncio.sleep(0)
    with pytest.raises(PasswordPoolBusy):
        await pool.verify("pw", "h")
    checks[0].cancel()  # a caller that gives up does not free a slot its thread still holds
    await asyncio.sleep(0)
    assert pool.held == 5
    release.set()
    assert await asyncio.gather(*checks[1:]) == [True] * 4
    assert most[0] == 2
    await asyncio.to_thread(_until, lambda: pool.held == 0)
    pool.close()


def _until(predicate) -> None:
    for _ in range(1000):
        if predicate():
            return
        threading.Event().wait(0.01)
    raise AssertionError("condition never held")


def test_a_flood_of_logins_does_not_hold_up_other_requests(monkeypatch):
    """While every password thread is stuck, other routes are still served, and logins past
    the pool's line are refused at once with 503 instead of queueing in the shared threads."""
    asyncio.run(_flood_scenario(monkeypatch))


async def _flood_scenario(monkeypatch) -> None:
    release, entered = threading.Event(), []

    def stuck(*args):
        entered.append(1)
        return release.wait(60) and False

    monkeypatch.setattr(passwords, "verify_password", stuck)
    clock = Clock()
    app = create_app(
        make_settings(
            password_workers=1,
            password_queue=2,
            # The pool is under test, not the throttle (which would admit only 6 of the flood).
            login_account_free_failures=1000,
            login_address_free_failures=1000,
        ),
        memory_ports(make_users(), clock=clock),
        clock,
    )
    seed(app)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        body = {"username": "nobody", "password": "guess"}
        # More stuck logins than the server's shared thread pool has threads (40).
        flood = [asyncio.ensure_future(http.post("/api/auth/login", json=body)) for _ in range(60)]
        await asyncio.to_thread(_until, lambda: entered)
        for _ in range(100):  # let every login of the flood reach its password check
            await asyncio.sleep(0)
        other = await asyncio.wait_for(http.get("/api/vehicles", headers=auth(app, "city")), 30)
        assert other.status_code == 200
        release.set()
        codes = [r.status_code for r in await asyncio.gather(*flood)]
    assert codes.count(401) == 3 and codes.count(503) == 57
    app.state.passwords.close()


def test_a_busy_pool_answers_503_with_retry_after(monkeypatch):
    asyncio.run(_busy_scenario(monkeypatch))


async def _busy_scenario(monkeypatch) -> None:
    release = threading.Event()
    monkeypatch.setattr(passwords, "verify_password", lambda *a: release.wait(60) and False)
    app = create_app(make_settings(password_workers=1, password_queue=0), memory_ports())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        body = {"username": "nobody", "password": "guess"}
        first = asyncio.ensure_future(http.post("/api/auth/login", json=body))
        await asyncio.to_thread(_until, lambda: app.state.passwords.held == 1)
        busy = await http.post("/api/auth/login", json=body)
        release.set()
        assert (await first).status_code == 401
    assert busy.status_code == 503 and busy.headers["retry-after"] == "1"
    app.state.passwords.close()
