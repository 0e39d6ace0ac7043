"""Websockets: handshake auth and Origin, district and viewport scoping, resume without gaps,
frame limits, and bounded outboxes for slow consumers."""

from __future__ import annotations

import pytest
from starlette.websockets import WebSocketDisconnect

from api.security import Principal
from tests.api.conftest import (
    DISPATCH,
    LX,
    ROLES,
    XS,
    alert,
    auth,
    frames_until,
    ping,
    ticket,
    vehicles_in,
)

# A lost frame would block a receive forever: fail instead of hanging the run.
pytestmark = pytest.mark.timeout(60)


def events(ws, count: int) -> list[dict]:
    """The next ``count`` alert/case events, unpacking ``batch`` frames."""
    out: list[dict] = []
    while len(out) < count:
        frame = ws.receive_json()
        out.extend(frame["events"] if frame["type"] == "batch" else [frame])
    assert len(out) == count, out
    return out


def refused(client, url: str, **kwargs) -> int:
    with pytest.raises(WebSocketDisconnect) as info, client.websocket_connect(url, **kwargs):
        pass
    return info.value.code


# --- handshake ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/ws/live", "/ws/alerts"])
def test_a_handshake_without_credentials_is_refused(client, path):
    assert refused(client, path) == 1008
    assert refused(client, f"{path}?ticket=garbage") == 1008


def test_tickets_are_single_use_and_expire(client, app, clock):
    first = ticket(client, app, "city")
    with client.websocket_connect(f"/ws/live?ticket={first}") as ws:
        assert ws.receive_json()["type"] == "hello"
    assert refused(client, f"/ws/live?ticket={first}") == 1008
    late = ticket(client, app, "city")
    clock.now += app.state.settings.ws_ticket_ttl_s + 1
    assert refused(client, f"/ws/live?ticket={late}") == 1008


def test_access_tokens_are_not_taken_from_the_query_string(client, app):
    token = auth(app, "city")["Authorization"].split()[1]
    assert refused(client, f"/ws/live?ticket={token}") == 1008


def test_subprotocol_token_is_accepted_and_echoed(client, app):
    token = auth(app, "city")["Authorization"].split()[1]
    with client.websocket_connect("/ws/live", subprotocols=["landun.v1", f"auth.{token}"]) as ws:
        assert ws.accepted_subprotocol == "landun.v1"
        assert ws.receive_json() == {"type": "hello", "user": "city", "district": None}


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        ("https://evil.example", False),
        ("http://testserver.evil.example", False),
        ("https://testserver", False),  # scheme differs from the request's
        ("http://testserver", True),  # same origin
        ("https://map.wuxi.example", True),  # allowlisted
    ],
)
def test_origin_is_checked_against_the_allowlist(client, app, origin, allowed):
    app.state.settings.allowed_origins = ["https://map.wuxi.example"]
    url = f"/ws/live?ticket={ticket(client, app, 'city')}"
    if allowed:
        with client.websocket_connect(url, headers={"origin": origin}) as ws:
            assert ws.receive_json()["type"] == "hello"
    else:
        assert refused(client, url, headers={"origin": origin}) == 1008


def test_connections_per_user_are_capped(client, app):
    app.state.settings.ws_max_per_user = 1
    with client.websocket_connect(f"/ws/live?ticket={ticket(client, app, 'city')}") as ws:
        ws.receive_json()
        assert refused(client, f"/ws/live?ticket={ticket(client, app, 'city')}") == 1013
    with client.websocket_connect(f"/ws/live?ticket={ticket(client, app, 'city')}") as ws:
        assert ws.receive_json()["type"] == "hello"  # the slot was released


# --- /ws/live -------------------------------------------------------------------------------


@pytest.mark.parametrize("user", ["liangxi", "xishan", "city", "enforce_lx"])
def test_live_snapshot_and_updates_stay_in_the_callers_district(client, app, user):
    own = ROLES[user][1]
    with client.websocket_connect(f"/ws/live?ticket={ticket(client, app, user)}") as ws:
        first = frames_until(ws, lambda f: f["type"] == "snapshot")
        expected = {"LX-1", "LX-2", "XS-1", "XS-2"}
        if own:
            expected = {v for v in expected if v.startswith("LX" if own == LX else "XS")}
        assert vehicles_in(first) == expected
        for vid in ("XS-1", "LX-1", "XS-2", "LX-2"):
            app.state.feed.position(ping(vid, 30))
        last = "LX-2" if own != XS else "XS-2"
        later = frames_until(ws, lambda f: last in vehicles_in([f]))
        assert vehicles_in(later) <= expected and last in vehicles_in(later)


def test_viewport_limits_updates_to_the_box(client, app):
    with client.websocket_connect(f"/ws/live?ticket={ticket(client, app, 'city')}") as ws:
        frames_until(ws, lambda f: f["type"] == "snapshot")
        box = [120.305, 31.56, 120.315, 31.58]  # holds LX-2 (120.31..120.312) only
        ws.send_json({"type": "viewport", "bbox": box, "zoom": 15})
        snap = frames_until(ws, lambda f: f["type"] == "snapshot")[-1]
        assert snap["bbox"] == box and vehicles_in([snap]) == {"LX-2"}
        app.state.feed.position(ping("LX-1", 30))  # outside the box: not sent
        app.state.feed.position(ping("LX-2", 30, lng=120.5))  # leaves the box: sent
        left = frames_until(ws, lambda f: "LX-2" in vehicles_in([f]))
        assert vehicles_in(left) == {"LX-2"}
        app.state.feed.position(ping("LX-2", 31, lng=120.6))  # already gone: not sent
        app.state.feed.position(ping("LX-1", 32, lng=120.31))  # enters the box: sent
        entered = frames_until(ws, lambda f: "LX-1" in vehicles_in([f]))
        moves = [
            (p["vehicle"], p["lng"])
            for f in entered
            if f["type"] == "positions"
            for p in f["items"]
        ]
        assert moves == [("LX-1", 120.31)]


def test_counts_cover_the_whole_scope(client, app):
    with client.websocket_connect(f"/ws/live?ticket={ticket(client, app, 'liangxi')}") as ws:
        counts = frames_until(ws, lambda f: f["type"] == "counts")[-1]["counts"]
        assert counts["total"] == 2 and counts["states"]["on_trip"] == 2
        assert (counts["online"], counts["moving"], counts["parked"]) == (2, 2, 0)


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("x" * 20_000, 1009),
        ("not json", 1007),
        ('{"type": "subscribe", "district": "锡山"}', 1008),
        ('{"type": "viewport", "bbox": [1, 2, 0, 3]}', 1007),
    ],
)
def test_bad_client_frames_close_the_socket(client, app, frame, code):
    with client.websocket_connect(f"/ws/live?ticket={ticket(client, app, 'city')}") as ws:
        ws.receive_json()
        ws.send_text(frame)
        with pytest.raises(WebSocketDisconnect) as info:
            while True:
                ws.receive_json()
        assert info.value.code == code


# --- /ws/alerts -----------------------------------------------------------------------------


def test_alert_feed_is_scoped_and_carries_case_changes(client, app):
    with client.websocket_connect(f"/ws/alerts?ticket={ticket(client, app, 'liangxi')}") as ws:
        snap = ws.receive_json()
        assert snap["type"] == "snapshot" and [a["id"] for a in snap["alerts"]] == ["A-LX"]
        app.state.feed.alert(alert("A-XS2", "XS-1", XS, minute=5))
        app.state.feed.alert(alert("A-LX2", "LX-1", LX, minute=6))
        (new,) = events(ws, 1)
        assert (new["type"], new["alert"]["id"]) == ("alert", "A-LX2")
        client.post("/api/alerts/A-LX2/case", json=DISPATCH, headers=auth(app, "city"))
        (change,) = events(ws, 1)
        assert change["type"] == "case" and change["alert"]["case"]["state"] == "dispatched"
        assert change["seq"] > new["seq"] > snap["seq"]


def test_resume_after_reconnect_has_no_gaps(client, app):
    url = f"/ws/alerts?ticket={ticket(client, app, 'liangxi')}"
    with client.websocket_connect(url) as ws:
        last_seen = ws.receive_json()["seq"]
    # While away: alerts in both districts, and a case change.
    for i in range(6):
        district, vid = (LX, "LX-1") if i % 2 == 0 else (XS, "XS-1")
        app.state.feed.alert(alert(f"away-{i}", vid, district, minute=10 + i))
    client.post("/api/alerts/A-LX/case", json=DISPATCH, headers=auth(app, "city"))
    store = app.state.ports.alerts
    expected = [
        (e.seq, e.alert["id"])
        for e in store.events_after(last_seen, 100)[0]
        if e.alert["district"] == LX
    ]
    with client.websocket_connect(
        f"/ws/alerts?after={last_seen}&ticket={ticket(client, app, 'liangxi')}"
    ) as ws:
        got = events(ws, len(expected))
    assert [(f["seq"], f["alert"]["id"]) for f in got] == expected
    assert [a for _, a in expected] == ["away-0", "away-2", "away-4", "A-LX"]


def test_a_message_lost_on_the_bus_is_recovered_from_the_store(client, app):
    with client.websocket_connect(f"/ws/alerts?ticket={ticket(client, app, 'city')}") as ws:
        ws.receive_json()
        app.state.ports.alerts.put(alert("lost", "LX-1", LX, minute=7))  # never published
        app.state.feed.alert(alert("after-lost", "LX-1", LX, minute=8))
        ids = [e["alert"]["id"] for e in events(ws, 2)]
    assert ids == ["lost", "after-lost"]


def test_resume_from_before_the_kept_log_resyncs(client, app):
    store = app.state.ports.alerts
    store._log = type(store._log)(store._log, maxlen=3)  # keep only 3 events
    for i in range(5):
        app.state.feed.alert(alert(f"old-{i}", "LX-1", LX, minute=20 + i))
    with client.websocket_connect(f"/ws/alerts?after=1&ticket={ticket(client, app, 'city')}") as ws:
        frame = ws.receive_json()
    assert frame["type"] == "resync" and frame["seq"] == store.head()
    assert {"old-4", "A-XS"} <= {a["id"] for a in frame["alerts"]}


@pytest.mark.parametrize("after", ["-1", "abc", "%C2%B2"])  # "²" is a digit int() refuses
def test_a_bad_resume_point_is_refused(client, app, after):
    app.state.settings.ws_max_per_user = 1
    url = f"/ws/alerts?after={after}&ticket={ticket(client, app, 'city')}"
    assert refused(client, url) == 1008
    with client.websocket_connect(f"/ws/alerts?ticket={ticket(client, app, 'city')}") as ws:
        assert ws.receive_json()["type"] == "snapshot"  # no connection slot was left taken


def test_a_removed_account_cannot_open_a_socket(client, app):
    t = ticket(client, app, "viewer")
    del app.state.ports.users._users["viewer"]
    assert refused(client, f"/ws/alerts?ticket={t}") == 1008
    assert app.state.issuer.issue(Principal("viewer", ROLES["viewer"][0]), "ws")


def test_a_malformed_bus_message_does_not_stop_the_fan_out(client, app):
    with client.websocket_connect(f"/ws/live?ticket={ticket(client, app, 'city')}") as ws:
        frames_until(ws, lambda f: f["type"] == "snapshot")
        app.state.ports.bus.publish("positions", {"no": "vehicle"})
        app.state.feed.position(ping("XS-1", 40))
        assert "XS-1" in vehicles_in(frames_until(ws, lambda f: "XS-1" in vehicles_in([f])))


def test_bad_query_parameters_take_no_slot_and_leave_no_client(client, app):
    """Refused before the user's connection slot is taken or the hub hears of the client;
    a 4,300-digit resume point used to pass ``isdecimal`` and blow up in ``int()`` after."""
    app.state.settings.ws_max_per_user = 1
    hub = app.state.hub
    bad = [
        "/ws/alerts?after=" + "9" * 4300,
        "/ws/alerts?after=" + "1" * 20,
        "/ws/alerts?after=%C2%B2",
        "/ws/alerts?after=1&after=2",
        "/ws/alerts?resume=1",
        "/ws/live?after=1",
        "/ws/live?x%00y=1",
    ]
    for i in range(20):
        path = bad[i % len(bad)]
        sep = "&" if "?" in path else "?"
        assert refused(client, f"{path}{sep}ticket={ticket(client, app, 'city')}") == 1008
    assert hub._per_user == {} and not hub.alert_clients and not hub.live_clients
    for path in ("/ws/alerts?after=0", "/ws/live"):
        sep = "&" if "?" in path else "?"
        with client.websocket_connect(f"{path}{sep}ticket={ticket(client, app, 'city')}") as ws:
            assert ws.receive_json()["type"] in ("batch", "hello")
    assert hub._per_user == {} and not hub.alert_clients and not hub.live_clients
    rejected = app.state.metrics.ws_rejected.labels("query")._value.get()
    assert rejected == 20
