"""The production path end to end (issue 10): pings -> Kafka -> `landun worker` -> Redis and
the alerts topic -> `landun alert-sink` -> PostgreSQL -> `landun api` (production mode, not demo)
-> websockets and REST, against what `landun detect` says of the same input."""

from __future__ import annotations

import contextlib
import time

import orjson
import pytest
from websockets.exceptions import ConnectionClosed

from tests.landun.deployment import PASSWORD, alert_frames, login, ready, socket

# (state, who): the centre dispatches, an enforcement officer handles, the centre closes.
CASE_STEPS = (("dispatched", "officer"), ("handled", "field"), ("closed", "officer"))


def expected_alerts(sim) -> dict[str, dict]:
    return {a["id"]: a for a in map(orjson.loads, (sim / "alerts.jsonl").read_bytes().splitlines())}


def frames(ws, timeout: float):
    """The frames of a websocket as they come, for at most ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(TimeoutError):
            yield orjson.loads(ws.recv(timeout=1))


def collect_alerts(ws, expected: dict, timeout: float) -> dict[str, dict]:
    """The latest version of each alert seen on /ws/alerts, until it equals ``expected``."""
    got: dict[str, dict] = {}
    for frame in frames(ws, timeout):
        for _, alert in alert_frames(frame):
            got[alert["id"]] = {k: v for k, v in alert.items() if k != "case"}
        if got == expected:
            break
    return got


def moving_vehicles(ws, want: int, timeout: float) -> dict[str, set]:
    """Positions seen per vehicle on /ws/live until ``want`` vehicles were seen moving."""
    seen: dict[str, set] = {}
    for frame in frames(ws, timeout):
        for item in frame.get("items", ()):
            seen.setdefault(item["vehicle"], set()).add((item["lat"], item["lng"]))
        if sum(len(points) > 1 for points in seen.values()) >= want:
            break
    return seen


def test_the_production_path_gives_what_landun_detect_gives(deployment, sim):
    d = deployment
    d.user("officer", "city")
    d.user("field", "enforcement")
    api, sink, worker = d.api(), d.sink(), d.worker()
    ready(api)
    ready(sink)
    token = login(api, "officer")
    status, body = api.get("/readyz")
    assert orjson.loads(body)["checks"] == {"hub": "ok", "postgresql": "ok", "redis": "ok"}

    with socket(api, token, "/ws/alerts") as alerts_ws, socket(api, token, "/ws/live") as live_ws:
        d.ingest(sim, rate=2000)  # paced over a few seconds: the map sees trucks move
        ready(worker)
        seen = moving_vehicles(live_ws, 10, timeout=120)
        expected = expected_alerts(sim)
        got = collect_alerts(alerts_ws, expected, timeout=120)
    assert sum(len(points) > 1 for points in seen.values()) >= 10, "vehicles should move"
    assert expected, "the simulation should raise alerts"
    assert got == expected  # same ids, same contents, nothing more

    # Reference data reached PostgreSQL: the API serves the simulated world.
    status, body = api.get("/api/vehicles", token)
    vehicles = orjson.loads((sim / "registry.json").read_bytes())["vehicles"]
    assert status == 200 and {v["id"] for v in orjson.loads(body)} == {v["id"] for v in vehicles}

    # An officer works a case over REST; every step is in its trail.
    alert_id = sorted(expected)[0]
    tokens = {"officer": token, "field": login(api, "field")}
    for state, who in CASE_STEPS:
        action = {"state": state, "note": f"{state} by {who}"}
        if state == "dispatched":  # issue 13's form: a team and a deadline after now
            action |= {"assignee": "三中队", "deadline": int((time.time() + 7200) * 1000)}
        status, body = api.post(f"/api/alerts/{alert_id}/case", action, tokens[who])
        assert status == 200, body
    status, body = api.get(f"/api/alerts/{alert_id}", token)
    trail = orjson.loads(body)["case"]["history"]
    assert [(e["state"], e["by"]) for e in trail] == [("open", "system"), *CASE_STEPS]


def test_revocation_and_throttling_in_production(deployment):
    d = deployment
    d.user("officer", "city")
    d.user("root", "admin")
    api = d.api()
    ready(api)
    token = login(api, "officer")
    with socket(api, token, "/ws/alerts") as ws:
        assert orjson.loads(ws.recv(timeout=10))["type"] == "snapshot"
        disabled = d.landun("users", "disable", "officer")
        assert disabled.returncode == 0, disabled.stderr
        started = time.monotonic()
        with pytest.raises(ConnectionClosed):
            while time.monotonic() - started < 10:
                with contextlib.suppress(TimeoutError):
                    ws.recv(timeout=1)
        # The bound: an open socket of a disabled account closes within 5 s.
        assert time.monotonic() - started <= 5.5, "the socket outlived the account"
    assert api.get("/api/auth/me", token)[0] == 401  # the token died with the account

    statuses = [
        api.post("/api/auth/login", {"username": "root", "password": "not the password"})[0]
        for _ in range(12)
    ]
    assert statuses[0] == 401 and statuses[-1] == 429
    root = None
    while root is None:  # the account's lock lifts after its Retry-After
        status, body = api.post("/api/auth/login", {"username": "root", "password": PASSWORD})
        if status == 200:
            root = body["access_token"]
        else:
            assert status == 429
            time.sleep(1)
    status, metrics = api.get("/metrics", root)
    assert status == 200 and b"landun_login_throttled_total" in metrics
    # The outbox's backlog is watched (nothing was edited: nothing waits).
    assert b"landun_outbox_unsent 0.0" in metrics
    assert b"landun_outbox_relay_failures_total 0.0" in metrics
