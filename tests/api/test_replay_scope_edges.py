"""What a district caller sees of a vehicle registered elsewhere stops at the alert window's
edges (review R1, issue 12: "nothing beyond that"): a stop that began before the window (or
ends after it) would say how long the truck had been standing there, so it is left out; the
caller's own district's vehicles keep every stop that overlaps the window.

The world is tests/api/test_replay_routes.py's, plus stops of XS-1 (seen by 梁溪 over minutes
30-75) and LX-1 that cross minute 30."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.memory import memory_ports
from replay.layout import SourceRange
from replay.writer import write_batch
from stream.eventtime import iso_ts
from tests.api.conftest import BASE_MS, Clock, auth, make_users
from tests.api.test_replay_routes import FROM, MIN, SPOT, TO, build, write_archive


def stop(vid: str, first: int, last: int) -> tuple[str, dict]:
    return ("stop", {"vehicle": vid, "ts": iso_ts(BASE_MS + first * MIN),
                     "ended_ts": iso_ts(BASE_MS + last * MIN), "lat": SPOT[0], "lng": SPOT[1],
                     "duration_s": 60.0 * (last - first), "loaded": True,
                     "at_known_place": False})  # fmt: skip


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    folder = tmp_path_factory.mktemp("archive")
    write_archive(folder)
    extra = [stop("XS-1", 20, 40), stop("XS-1", 40, 50), stop("XS-1", 74, 90), stop("LX-1", 20, 40)]
    write_batch(folder, SourceRange(900_000, 900_000), [], extra)
    clock = Clock()
    app = build(memory_ports(make_users(), clock=clock), folder, clock)
    with TestClient(app) as client:
        yield app, client


def starts(world, user, **params) -> list[tuple[str, int]]:
    app, client = world
    params = {"from": FROM, "to": TO, **params}
    response = client.get("/api/replay/stops", params=params, headers=auth(app, user))
    assert response.status_code == 200, response.text
    return [(s["vehicle"], (int(s["ts"][11:13]) - 20) * 60 + int(s["ts"][14:16]))
            for s in response.json()["stops"]]  # fmt: skip


@pytest.mark.parametrize("how", [{"vehicle": "XS-1"}, {"company": "锡山运输"}])
def test_a_stop_crossing_the_alert_window_is_not_shown(world, how):
    assert [m for v, m in starts(world, "liangxi", **how) if v == "XS-1"] == [40, 60]
    assert [m for v, m in starts(world, "city", **how) if v == "XS-1"] == [20, 40, 60, 74]


def test_the_callers_own_vehicles_keep_every_stop(world):
    """Even one that began before the window asked for (minute 30 on)."""
    late = {"from": iso_ts(BASE_MS + 30 * MIN)}
    assert starts(world, "liangxi", vehicle="LX-1", **late) == [("LX-1", 20), ("LX-1", 60)]
    assert starts(world, "liangxi", company="梁溪运输", **late) == [("LX-1", 20), ("LX-1", 60)]


def test_the_track_draws_no_stop_crossing_the_alert_window(world):
    app, client = world
    response = client.get(
        "/api/replay/track/XS-1", params={"from": FROM, "to": TO}, headers=auth(app, "liangxi")
    )
    drawn = [f["properties"]["ts"][11:16] for f in response.json()["features"][1:]
             if f["properties"]["kind"] == "stop"]  # fmt: skip
    assert drawn == ["20:40", "21:00"]
