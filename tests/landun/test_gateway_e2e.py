"""End to end on the real services: simulated terminals -> JT/T 808 gateway -> Kafka -> worker,
against `landun detect` on the same pings (issue 14).

The fleet is `landun sim-terminals`' (its drive over real sockets); the gateway runs in this
process with the Kafka sink, its ``received`` clock on the simulation's timescale (the terminals
replay a past night faster than real time, and a wall-clock receive time would make every
position years late). The worker (`landun worker`) reads what the gateway published; `landun
detect` reads the same pings from the topic as a file.
"""

from __future__ import annotations

import asyncio
import time

import orjson

from gateway.directory import Directory
from gateway.server import GatewayServer
from gateway.sink import KafkaSink, make_gateway_producer
from gateway.vendors import table_from_dict
from landun.commands.sim_terminals import drive, reports, write_files
from sim import DEFAULT_START, simulate
from stream.eventtime import parse_ts
from stream.kafka.producer import PingSender, make_producer, publish_reference_data
from stream.kafka.topics import Topics
from tests.stream.kafka.conftest import (  # noqa: F401 - workers is a fixture
    PARTITIONS,
    detect,
    read_topic,
    wait_for,
    workers,
)
from tests.stream.kafka.verify import alert_versions, caught_up

RATE = 360.0  # 3 simulated hours in 30 s


def run_gateway(sim, out, bootstrap: str, topics: Topics) -> tuple[dict, GatewayServer]:
    """Serve the gateway and drive every terminal of ``sim`` through it; the drive's counts."""
    registry = orjson.loads((out / "registry.json").read_bytes())
    vendors = table_from_dict(orjson.loads((out / "vendors.json").read_bytes()))
    first = min(sends[0][0] for sends in reports(sim).values())

    async def main():
        t0 = time.monotonic()
        clock = lambda: first + int((time.monotonic() - t0) * RATE * 1000)  # noqa: E731
        sink = KafkaSink(make_gateway_producer(bootstrap), topics, PARTITIONS)
        server = GatewayServer(Directory.from_mapping(registry, vendors), sink, clock_ms=clock)
        port = await server.start()
        try:
            counts = await drive(sim, "127.0.0.1", port, RATE, "mixed", time.monotonic)
        finally:
            await server.close()
        return counts, server

    return asyncio.run(main())


def test_sim_terminals_through_the_gateway_give_landun_detects_alerts(
    bootstrap,
    topics,
    workers,  # noqa: F811
    tmp_path,
):
    sim = simulate(24, 3.0, 4, parse_ts(DEFAULT_START))
    write_files(sim, tmp_path)
    producer = make_producer(bootstrap)
    fences = orjson.loads((tmp_path / "fences.geojson").read_bytes())
    registry = orjson.loads((tmp_path / "registry.json").read_bytes())
    publish_reference_data(producer, topics, fences, registry)
    worker = workers()

    counts, server = run_gateway(sim, tmp_path, bootstrap, topics)
    PingSender(producer, topics, PARTITIONS).final()  # the end of the input, as `--final`
    producer.close()

    # Every position sent was acknowledged once and is in the topic once.
    assert counts.get("retransmissions", 0) == 0 and counts.get("lost", 0) == 0
    assert counts["batches"] > 0 and counts["disconnects"] > 0  # blind areas and reconnects
    records = sorted(read_topic(bootstrap, topics.pings), key=lambda r: (r.timestamp, r.partition,
                     r.offset))  # fmt: skip
    pings = [p for r in records if r.value for p in orjson.loads(r.value)]
    sent = sum(len(b) for sends in reports(sim).values() for _, b, _ in sends)
    assert len(pings) == sent - server.stats.c["positions_skipped"]
    assert {p["source"] for p in pings} == {"jt808"}
    assert any(p.get("backfill") for p in pings)
    assert any("lift" in p for p in pings)  # the vendor items made it through

    path = tmp_path / "gateway_pings.jsonl"
    path.write_bytes(b"".join(orjson.dumps(p) + b"\n" for p in pings))
    expected = detect(tmp_path, tmp_path / "fences.geojson", tmp_path / "registry.json", path, "d")

    wait_for(worker.ready, 90, "the worker to be ready")
    wait_for(lambda: caught_up(bootstrap, topics), 120, "the worker to process every record")
    final, _ = alert_versions(bootstrap, topics)
    print(f"{len(pings)} pings, {len(expected)} alerts, {counts}")
    assert expected, "the night should raise alerts"
    assert final == expected
