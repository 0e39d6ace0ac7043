"""Reference edits reach the running workers (issue 10): a restricted zone added through the API
while pings flow is used for every ping judged after it — a truck entering the zone afterwards
raises `restricted_zone` — and never for pings judged before: a truck that drove through the
area before the zone existed is not flagged retroactively."""

from __future__ import annotations

import shutil
import urllib.request

import orjson

from stream.eventtime import parse_ts
from tests.landun.deployment import login, ready
from tests.stream.kafka.conftest import wait_for

T0_MS = 1_748_829_600_000  # 2025-06-02T10:00:00+08:00, inside the zone's hours
STEP_MS = 10_000
ZONE = (120.200, 31.450, 120.210, 31.455)  # west, south, east, north: open fields, no fence


def zone_feature() -> dict:
    w, s, e, n = ZONE
    ring = [[w, s], [e, s], [e, n], [w, n], [w, s]]
    return {
        "type": "Feature",
        "id": "restricted-test-zone",
        "geometry": {"type": "Polygon", "coordinates": [ring]},
        "properties": {"kind": "restricted", "name": "临时禁区", "district": "滨湖",
                       "datum": "wgs84", "hours": ["00:00-23:59"], "vehicle_kinds": ["muck"]},
    }  # fmt: skip


def drive(vehicle: str, start_step: int, points: list[tuple[float, float]]) -> list[dict]:
    """Pings every 10 s through ``points`` (lng, lat), moving at a plausible speed."""
    return [
        {"vehicle": vehicle, "ts": T0_MS + (start_step + i) * STEP_MS, "lat": lat, "lng": lng,
         "speed_kmh": 30.0, "heading": 90.0}
        for i, (lng, lat) in enumerate(points)
    ]  # fmt: skip


def east(lng0: float, lat: float, steps: int) -> list[tuple[float, float]]:
    return [(round(lng0 + 0.0008 * i, 6), lat) for i in range(steps)]  # ~75 m per 10 s


def parked(lng: float, lat: float, steps: int) -> list[tuple[float, float]]:
    return [(lng, lat)] * steps


def write_pings(directory, world, pings: list[dict]):
    directory.mkdir()
    for name in ("fences.geojson", "registry.json"):
        shutil.copy(world / name, directory / name)
    pings.sort(key=lambda p: (p["ts"], p["vehicle"]))
    (directory / "pings.jsonl").write_bytes(b"\n".join(orjson.dumps(p) for p in pings) + b"\n")
    return directory


def test_a_zone_added_while_pings_flow_judges_the_pings_after_it(deployment, sim, tmp_path):
    d = deployment
    d.user("root", "admin")
    api, sink, worker = d.api(), d.sink(), d.worker()
    ready(api)
    ready(sink)
    token = login(api, "root")
    lat = (ZONE[1] + ZONE[3]) / 2
    # Before the zone: V0001 drives through its area and out; V0002 waits west of it.
    before = drive("V0001", 0, east(ZONE[0] - 0.004, lat, 40)) + drive(
        "V0002", 0, parked(ZONE[0] - 0.010, lat, 40)
    )
    # After: V0002 drives into the zone and stays; V0001 waits east of it.
    after = drive("V0002", 40, east(ZONE[0] - 0.010, lat, 30) + parked(ZONE[0] + 0.005, lat, 30))
    after += drive("V0001", 40, parked(ZONE[2] + 0.010, lat, 60))
    d.ingest(write_pings(tmp_path / "before", sim, before), final=False)
    ready(worker)
    wait_for(lambda: worker.metric("landun_pings_in_total") == len(before), 60, "the first pings")
    fences_applied = worker.metric("landun_reference_records_total")

    request = urllib.request.Request(
        f"http://127.0.0.1:{api.port}/api/fences/restricted-test-zone",
        data=orjson.dumps(zone_feature()), method="PUT",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=10) as reply:
        assert reply.status == 200
    wait_for(
        lambda: worker.metric("landun_reference_records_total") > fences_applied,
        30, "the worker to apply the new zone", every=0.1,
    )  # fmt: skip
    d.ingest(write_pings(tmp_path / "after", sim, after), final=True)

    def zone_alerts() -> dict[str, dict]:
        status, body = api.get("/api/alerts?type=restricted_zone", token)
        assert status == 200
        return {a["vehicle"]: a for a in orjson.loads(body) if a["fence"] == "restricted-test-zone"}

    wait_for(lambda: "V0002" in zone_alerts(), 90, "V0002's restricted_zone alert")
    wait_for(lambda: worker.metric("landun_pings_in_total") == len(before) + len(after), 60, "all")
    found = zone_alerts()
    assert set(found) == {"V0002"}  # V0001 passed before the zone existed: not flagged
    first_inside = min(p["ts"] for p in after if p["vehicle"] == "V0002" and p["lng"] >= ZONE[0])
    assert (
        parse_ts(found["V0002"]["ts"]) <= first_inside
    )  # dated at the entry (crossing or first ping)
