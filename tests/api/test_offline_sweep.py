"""Vehicles that go silent are shown offline in production too (issue 13, api.offline): only the
embedded demo marked them, so the production counters said 离线 0 and a vanished truck kept its
last state. The API's sweep judges silence against the fleet's newest position (data time)."""

from __future__ import annotations

import time

import pytest

from tests.api.conftest import LX, XS, auth, make_settings, ping, vehicle
from tests.api.worlds import STORES, world_on

pytestmark = pytest.mark.timeout(120)

# vehicle, district, minute of its last fix; the fleet's front is minute 20
FIXES = [("LX-1", LX, 0), ("LX-2", LX, 20), ("XS-1", XS, 11), ("XS-2", XS, 9)]
OFFLINE = {"LX-1", "XS-2"}  # silent more than 10 min before minute 20; XS-1: 9 min, online


def seed(app) -> None:
    for vid, district, minute in FIXES:
        app.state.ports.vehicles.put(vehicle(vid, district, "muck"))
        app.state.feed.position(ping(vid, minute, speed_kmh=30.0))


@pytest.mark.parametrize("store", STORES)
def test_the_api_marks_silent_vehicles_offline(store):
    settings = make_settings(offline_sweep_s=0.2)
    with world_on(store, seed, settings=settings) as (app, client):
        headers = auth(app, "city")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            counts = client.get("/api/live/counts", headers=headers).json()
            if counts["offline"] == len(OFFLINE):
                break
            time.sleep(0.1)
        states = {p["vehicle"]: p["state"] for p in client.get("/api/live", headers=headers).json()}
        time.sleep(0.5)  # more sweeps: nothing else changes (idempotent)
        again = client.get("/api/live/counts", headers=headers).json()
    assert {v for v, s in states.items() if s == "offline"} == OFFLINE
    assert (counts["total"], counts["online"], counts["offline"]) == (4, 2, 2)
    assert again == counts


def test_no_sweep_when_turned_off():
    with world_on("memory", seed, settings=make_settings(offline_sweep_s=0)) as (app, client):
        time.sleep(0.5)
        counts = client.get("/api/live/counts", headers=auth(app, "city")).json()
    assert counts["offline"] == 0  # the switch works: tests that seed stale fixes rely on it
