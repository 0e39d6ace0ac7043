"""`landun archive` over the real Kafka path (issue 12): a small fleet's night through `landun
ingest` -> `landun worker` -> the topics, archived; the archive equals the input.

Checked against what the topics hold, read here independently of the consumer: every ping once
(by partition, offset, index) with its raw JSON as sent, the verdicts the worker dead-lettered
(and the ones `landun detect` gives the same night), every alert version, trip, stop, fence event
and reference version, and `_committed.json` at the topics' ends.
"""

from __future__ import annotations

from collections import Counter

import orjson

from landun.cli import main as landun
from replay.committed import read_committed
from replay.refused import read_refused
from stream.eventtime import parse_ts
from stream.kafka.producer import make_producer
from stream.kafka.topics import partition_for
from stream.wire_json import loads_json
from tests.replay.stream_archive import (
    archive_args,
    dead_letters,
    ingest,
    ping_items,
    table,
    verdict_counts,
)
from tests.stream.kafka import conftest as kafka
from tests.stream.kafka.conftest import PARTITIONS, end_offsets, read_topic, wait_for
from tests.stream.kafka.verify import caught_up

# The streaming tests' fixtures: the broker, a fresh namespace, a small night, worker processes.
bootstrap, topics, sim, workers = kafka.bootstrap, kafka.topics, kafka.sim, kafka.workers


def send_extras(bootstrap, topics, sim) -> dict[str, tuple[int, int]]:
    """Records the worker must reject, each a different way; their (partition, offset)."""
    lines = (sim / "pings.jsonl").read_bytes().splitlines()
    rejected = {orjson.loads(x)["line"] for x in (sim / "alerts.rej").read_bytes().splitlines()}
    n = max(i for i in range(len(lines)) if i + 1 not in rejected and i not in rejected)
    good = lines[n]  # the night's last accepted ping: sent again, a duplicate
    last = orjson.loads(good)
    vehicle = last["vehicle"]
    home = partition_for(vehicle, PARTITIONS)
    other = (home + 1) % PARTITIONS
    nan = b'{"vehicle": "%s", "ts": %d, "lat": NaN, "lng": 120.3}' % (
        vehicle.encode(),
        parse_ts(last["ts"]) + 5_000,
    )
    bad_ts = b'{"vehicle": "%s", "ts": "yesterday", "lat": 31.5, "lng": 120.3}' % vehicle.encode()
    batch = b"[" + b", ".join([good, bad_ts, nan, good]) + b"]"
    producer = make_producer(bootstrap)
    sent = {
        "not_json": producer.send(topics.pings, value=b'{"vehicle": "V', partition=home),
        "batch": producer.send(topics.pings, value=batch, partition=home),
        "misrouted": producer.send(topics.pings, value=good, partition=other),
        "bad_single": producer.send(topics.pings, value=bad_ts, partition=home),
    }
    producer.send(topics.alerts, value=b"not an alert", partition=0)
    producer.flush()
    producer.close()
    return {name: (f.get().partition, f.get().offset) for name, f in sent.items()}


def test_archive_of_a_small_fleet_equals_its_input(
    bootstrap, topics, sim, workers, tmp_path, capsys
):
    worker = workers()
    ingest(bootstrap, topics, sim, "--final")
    extras = send_extras(bootstrap, topics, sim)
    wait_for(worker.ready, 90, "the worker to be ready")
    wait_for(lambda: caught_up(bootstrap, topics), 120, "the worker to process every record")
    archive = tmp_path / "archive"
    capsys.readouterr()
    assert landun(archive_args(bootstrap, topics, archive, "--idle-exit", "3")) == 0
    summary = orjson.loads(capsys.readouterr().out)

    rows = table(archive, "pings")
    by_key = {(r["partition"], r["offset"], r["index"]): r for r in rows}
    items = ping_items(bootstrap, topics)
    # Every ping once, nothing else.
    assert len(by_key) == len(rows)
    assert set(by_key) == set(items)
    # Raw as sent; received = the record's timestamp when the ping carries none.
    for key, (item, stamp) in items.items():
        row = by_key[key]
        if item is not None:
            assert loads_json(row["raw"]) == item, key
        parsed = row["ts"] is not None  # a record that did not decode has only its own stamp
        assert row["received"] == ((item or {}).get("received", stamp) if parsed else stamp), key

    # Verdicts: what the worker dead-lettered, ping by ping.
    letters = dead_letters(bootstrap, topics)
    assert verdict_counts(rows) == Counter(d["reason"] for d in letters)
    for d in letters:
        candidates = [
            r
            for (p, o, i), r in by_key.items()
            if (p, o) == (d["partition"], d["offset"]) and d["index"] in (None, i)
        ]
        if d["index"] is None and isinstance(d["body"], dict) and len(candidates) > 1:
            body = d["body"]  # one ping the engine rejected in a batch record
            candidates = [
                r for r in candidates if (r["vehicle"], r["ts"]) == (body["vehicle"], body["ts"])
            ]
        assert d["reason"] in {r["verdict"] for r in candidates}, d
    # ... and what `landun detect` says of the same night, plus the extras.
    detect_rejects = (sim / "alerts.rej").read_bytes().splitlines()
    want = Counter(orjson.loads(line)["reason"] for line in detect_rejects)
    extra_rows = [r for r in rows if (r["partition"], r["offset"]) in set(extras.values())]
    assert verdict_counts(rows) - verdict_counts(extra_rows) == want

    # The extras, each kept the way it came.
    def at(name, index=0):
        return by_key[(*extras[name], index)]

    broken = at("not_json")
    assert (broken["verdict"], broken["raw"], broken["vehicle"], broken["ts"]) == (
        "bad_json",
        '{"vehicle": "V',
        None,
        None,
    )
    assert at("batch", 1)["verdict"] == "bad_field" and at("batch", 1)["ts"] is None
    assert at("batch", 1)["vehicle"] == at("batch", 0)["vehicle"]  # the id parsed
    assert at("batch", 2)["verdict"] == "filter_non_finite"
    assert at("batch", 2)["raw"].endswith('"lat": NaN, "lng": 120.3}')
    assert at("batch", 0)["verdict"] == at("batch", 3)["verdict"] == "filter_duplicate"
    assert at("misrouted")["verdict"] == "misrouted"
    assert at("bad_single")["verdict"] == "bad_field"
    accepted = sum(1 for r in rows if r["verdict"] == "accepted")
    assert len(table(archive, "cells")) == accepted
    assert summary["pings"]["accepted"] == accepted

    # Alerts (every version), trips, stops, fence events, reference versions.
    def sorted_json(value: bytes) -> str:
        return orjson.dumps(orjson.loads(value), option=orjson.OPT_SORT_KEYS).decode()

    alert_records = read_topic(bootstrap, topics.alerts)
    assert {r["payload"] for r in table(archive, "alerts")} == {
        sorted_json(r.value) for r in alert_records if r.value.startswith(b"{")
    }
    assert [x["value"] for x in read_refused(archive, "alerts")] == ["not an alert"]
    events = Counter(orjson.loads(r.value)["event"] for r in read_topic(bootstrap, topics.events))
    assert len(table(archive, "stops")) == events["stop"] > 0
    assert len(table(archive, "fence_events")) == events["fence"] > 0
    trips = {(orjson.loads(r.value)["id"]) for r in read_topic(bootstrap, topics.events)
             if orjson.loads(r.value)["event"] == "trip"}  # fmt: skip
    assert {t["id"] for t in table(archive, "trips")} == trips
    fences = {r.key.decode() for r in read_topic(bootstrap, topics.fences)}
    assert {f["id"] for f in table(archive, "fences")} == fences
    registry = {r.key.decode() for r in read_topic(bootstrap, topics.registry)}
    assert {f"{e['section']}/{e['id']}" for e in table(archive, "registry")} == registry

    # Everything read is committed, and _committed.json says so.
    committed = read_committed(archive)
    for name in ("pings", "alerts", "events", "fences", "registry"):
        assert committed[name] == end_offsets(bootstrap, getattr(topics, name)), name
