"""Reference data changed while a worker runs: a new restricted zone and a revoked permit take
effect for the pings that follow (as `landun detect` with the changed files finds them), and the
worker's alerts are exactly, ids and contents, those of one pass over the same records that
switches to the changed data where the worker got it (issue 15: "the new alerts are among the
worker's" let extra or altered alerts pass)."""

from __future__ import annotations

import orjson

from stream.eventtime import parse_ts
from stream.kafka.producer import PingSender, make_producer, publish_entry, publish_reference
from tests.stream.kafka.conftest import PARTITIONS, detect, end_offsets, wait_for
from tests.stream.kafka.copies import assert_alerts
from tests.stream.kafka.verify import caught_up, context, rerun

ZONE = "restricted-test-zone"


def _zone_around(lat: float, lng: float, half: float = 0.003) -> dict:
    ring = [
        [lng - half, lat - half], [lng + half, lat - half], [lng + half, lat + half],
        [lng - half, lat + half], [lng - half, lat - half],
    ]  # fmt: skip
    return {
        "type": "Feature",
        "id": ZONE,
        "geometry": {"type": "Polygon", "coordinates": [ring]},
        "properties": {
            "kind": "restricted", "name": "test zone", "district": "test",
            "hours": ["00:00-23:59"], "vehicle_kinds": ["muck"],
        },
    }  # fmt: skip


def _key(a: dict) -> tuple:
    return a["type"], a["vehicle"], a["ts"], a["fence"]


def test_new_fence_and_revoked_permit_take_effect_in_a_running_worker(
    bootstrap, topics, sim, workers, tmp_path
):
    lines = (sim / "pings.jsonl").read_bytes().splitlines()
    split = len(lines) // 3
    split_ts = max(parse_ts(orjson.loads(x)["ts"]) for x in lines[:split])
    registry = orjson.loads((sim / "registry.json").read_bytes())
    fences = orjson.loads((sim / "fences.geojson").read_bytes())
    muck = {v["id"] for v in registry["vehicles"] if v["kind"] == "muck"}

    # Which permit to revoke: a vehicle loading after the split raises unpermitted_load without it.
    bare = tmp_path / "bare.json"
    bare.write_bytes(orjson.dumps({**registry, "permits": []}))
    late = lambda a: parse_ts(a["ts"]) > split_ts + 600_000  # noqa: E731
    without = detect(tmp_path, sim / "fences.geojson", bare, sim / "pings.jsonl", "bare")
    before = {_key(a) for a in map(orjson.loads, (sim / "alerts.jsonl").read_bytes().splitlines())}
    # A load that is permitted with the full registry (the simulator also injects loads that are
    # unpermitted anyway: revoking those permits would change nothing).
    loads = [
        a
        for a in without.values()
        if a["type"] == "unpermitted_load" and late(a) and _key(a) not in before
    ]
    assert loads, "the simulation should load after the split"
    vehicle = min(loads, key=lambda a: a["ts"])["vehicle"]
    revoked = [p for p in registry["permits"] if vehicle in p["vehicles"]]
    # Where to put the zone: a moving muck truck's position well after the split.
    moving = next(
        ping for ping in map(orjson.loads, lines[split * 2 :])
        if ping["vehicle"] in muck and (ping.get("speed_kmh") or 0) > 20 and not ping.get("datum")
    )  # fmt: skip
    zone = _zone_around(moving["lat"], moving["lng"])

    changed_registry = tmp_path / "registry.json"
    changed_registry.write_bytes(
        orjson.dumps({**registry, "permits": [p for p in registry["permits"] if p not in revoked]})
    )
    changed_fences = tmp_path / "fences.geojson"
    changed_fences.write_bytes(orjson.dumps({**fences, "features": [*fences["features"], zone]}))
    want = detect(tmp_path, changed_fences, changed_registry, sim / "pings.jsonl", "changed")
    new = {_key(a) for a in want.values() if late(a)} - before
    assert any(k[0] == "restricted_zone" and k[3] == ZONE for k in new)
    assert any(k[0] == "unpermitted_load" and k[1] == vehicle for k in new)

    producer = make_producer(bootstrap)
    publish_reference(producer, topics, sim / "fences.geojson", sim / "registry.json")
    sender = PingSender(producer, topics, PARTITIONS, batch_pings=100)
    worker = workers()
    wait_for(worker.ready, 90, "the worker to be ready")
    sender.send_lines(lines[:split])
    sender.flush()
    wait_for(lambda: caught_up(bootstrap, topics), 60, "the first third to be processed")
    switch = end_offsets(bootstrap, topics.pings)  # the records from here on see the changes

    applied = worker.metric("landun_reference_records_total")
    publish_entry(producer, topics, "fences", ZONE, zone)
    for permit in revoked:
        publish_entry(producer, topics, "registry", f"permits/{permit['id']}", None)
    n = 1 + len(revoked)
    wait_for(lambda: worker.metric("landun_reference_records_total") >= applied + n, 10, "changes")

    sender.send_lines(lines[split:])
    sender.final()
    producer.close()
    wait_for(lambda: caught_up(bootstrap, topics), 90, "the rest to be processed")
    _, reference = rerun(bootstrap, topics, context(sim), (switch, context(tmp_path)))
    final = assert_alerts(bootstrap, topics, reference, tmp_path)  # nothing more, nothing less
    got = {_key(a) for a in final.values()}
    assert new <= got, f"missing after the change: {sorted(new - got)}"  # the changes took effect
