"""Login throttling: per username and per client address, exponential backoff, 429 with
Retry-After, reset by a success, counted in /metrics."""

from __future__ import annotations

import asyncio

import httpx

from api.throttle import LoginThrottle, Policy
from tests.api.conftest import PASSWORD, Clock, auth


def test_the_backoff_doubles_after_the_free_failures():
    clock = Clock()
    throttle = LoginThrottle(Policy(account_free=3, address_free=100, backoff_s=1.0), clock)
    waits = []
    for _ in range(6):
        throttle.failed("admin", "10.0.0.1")
        waits.append(throttle.wait("admin", "10.0.0.1"))
        clock.now += 100  # past any wait: the count still grows
    assert waits == [None, None, None, ("account", 1), ("account", 2), ("account", 4)]


def test_the_wait_is_capped_and_failures_are_forgotten():
    clock = Clock()
    policy = Policy(account_free=0, backoff_s=1.0, backoff_max_s=30.0, forget_s=600.0)
    throttle = LoginThrottle(policy, clock)
    for _ in range(200):  # the exponent is capped: no overflow
        throttle.failed("admin", "a")
    assert throttle.wait("admin", "b") == ("account", 30)
    clock.now += 601
    assert throttle.wait("admin", "b") is None
    throttle.failed("admin", "a")  # a failure after the memory starts the count again
    assert throttle.wait("admin", "b") == ("account", 1)


def test_a_success_resets_the_account_but_not_the_address():
    clock = Clock()
    throttle = LoginThrottle(Policy(account_free=1, address_free=1), clock)
    for _ in range(2):
        throttle.failed("admin", "10.0.0.1")
    throttle.succeeded("admin")
    assert throttle.wait("admin", "10.0.0.2") is None
    assert throttle.wait("city", "10.0.0.1") == ("address", 1)


def test_tracked_keys_are_bounded():
    throttle = LoginThrottle(Policy(tracked=10), Clock())
    for i in range(1000):
        throttle.failed(f"user{i}", f"10.0.{i // 256}.{i % 256}")
    assert len(throttle._failures) == 10


def test_repeated_failures_get_429_with_retry_after_then_a_success_resets(client, app, clock):
    free = app.state.settings.login_account_free_failures
    for _ in range(free + 1):
        wrong = {"username": "liangxi", "password": "wrong"}
        assert client.post("/api/auth/login", json=wrong).status_code == 401
    right = {"username": "liangxi", "password": PASSWORD}
    throttled = client.post("/api/auth/login", json=right)  # even the right password waits
    assert throttled.status_code == 429
    assert throttled.headers["retry-after"] == "1"
    clock.now += 1
    assert client.post("/api/auth/login", json=right).status_code == 200
    assert client.post("/api/auth/login", json=wrong).status_code == 401  # counted from zero
    assert client.post("/api/auth/login", json=right).status_code == 200
    metrics = client.get("/metrics", headers=auth(app, "admin")).text
    assert f"landun_login_failures_total {free + 2}.0" in metrics
    assert 'landun_login_throttled_total{by="account"} 1.0' in metrics


def test_one_address_guessing_many_usernames_is_throttled(client, app):
    free = app.state.settings.login_address_free_failures
    for i in range(free + 1):
        body = {"username": f"guess{i}", "password": "wrong"}
        assert client.post("/api/auth/login", json=body).status_code == 401
    response = client.post("/api/auth/login", json={"username": "city", "password": PASSWORD})
    assert response.status_code == 429 and int(response.headers["retry-after"]) >= 1
    metrics = client.get("/metrics", headers=auth(app, "admin")).text
    assert 'landun_login_throttled_total{by="address"} 1.0' in metrics


def test_attempts_in_flight_count_against_the_key():
    clock = Clock()
    throttle = LoginThrottle(Policy(account_free=1, address_free=100, backoff_s=1.0), clock)
    assert throttle.begin("admin", "a") is None
    assert throttle.begin("admin", "b") is None  # one in flight: still within the free one
    assert throttle.begin("admin", "c") == ("account", 1)  # two in flight: two failures
    throttle.end("admin", "a", None)  # not checked (busy, an outage): nothing counted
    throttle.end("admin", "b", "failed")
    assert throttle.wait("admin", "d") is None
    assert throttle.begin("admin", "d") is None
    throttle.end("admin", "d", "succeeded")  # resets the account, frees its slot
    assert throttle._inflight == {} and throttle.wait("admin", "e") is None


def test_concurrent_wrong_guesses_get_no_more_checks_than_sequential_ones(app):
    """All guesses arrive before any check ends: at most ``free + 1`` are checked (as many as
    one after another, where the check after the free failures is the last before a wait), the
    rest get 429 with Retry-After without a check."""
    free = app.state.settings.login_account_free_failures
    guesses = 30
    pool = app.state.passwords
    real, checked, gate = pool.verify, [], asyncio.Event()

    async def held_verify(password, stored, account="?"):
        checked.append(account)
        await gate.wait()  # every check is still running while the others arrive
        return await real(password, stored, account)

    pool.verify = held_verify

    async def flood():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://landun") as client:
            body = {"username": "liangxi", "password": "wrong"}
            tasks = [
                asyncio.create_task(client.post("/api/auth/login", json=body))
                for _ in range(guesses)
            ]
            while len(checked) + sum(t.done() for t in tasks) < guesses:
                await asyncio.sleep(0.001)  # until each is in a check or answered
            gate.set()
            return await asyncio.gather(*tasks)

    responses = asyncio.run(asyncio.wait_for(flood(), 60))
    statuses = sorted(r.status_code for r in responses)
    assert len(checked) == free + 1
    assert statuses == [401] * (free + 1) + [429] * (guesses - free - 1)
    assert all(int(r.headers["retry-after"]) >= 1 for r in responses if r.status_code == 429)
    assert app.state.logins._inflight == {}  # every admitted attempt ended
