"""JT/T 808 gateway under load: many terminal connections, p99 acknowledgement latency, with Kafka's
acknowledgements included (issue 14 target: 5,000 connections each reporting every 10 s plus a
burst of 0x0704 batches on one gateway process, p99 <= 50 ms, no dropped frame).

``python -m bench.gateway [--connections N] [--interval S] [--duration S] [--burst B]
[--burst-size K] [--sinks kafka,null] [--json]`` starts, for each sink, one gateway process
(``--serve``: the real :class:`gateway.server.GatewayServer`; ``kafka`` = the Kafka sink into a
fresh namespace on LANDUN_KAFKA_BOOTSTRAP, 127.0.0.1:9092 by default; ``null`` = the same server
with a sink that keeps nothing: the baseline, what the gateway costs without Kafka), then in this
process opens N terminal connections (registration and authentication spread over the ramp),
has each send a 0x0200 every ``interval`` seconds for ``duration`` seconds, and half-way through
has B terminals send a K-position blind-area batch (0x0704 type 1) at once. Measured on the
terminal side: the time from writing a frame to reading its 0x8001 (what a terminal waits),
p50/p99/max for locations and batches; dropped = requests without a reply within 10 s or with a
result other than 0. With Kafka, the pings topic is counted afterwards against the positions
acknowledged.

The client and the gateway are separate processes; on a small machine they share its cores
with Kafka, so the numbers say as much about the machine as about the gateway. Nothing here
asserts them.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

T0_MS = 1_796_558_400_000  # 2026-12-06T20:00:00+08:00
PHONE = "0138{:08d}"


def registry(n: int) -> dict:
    return {
        "vehicles": [
            {"id": f"B{i:05d}", "kind": "muck", "terminal_phone": PHONE.format(i)} for i in range(n)
        ]
    }


# -- the gateway process ---------------------------------------------------------------------


def serve(args) -> None:
    """Run a gateway (``--sink kafka|null``) until SIGTERM; print its counters as JSON."""
    from gateway.directory import Directory
    from gateway.limits import Limits
    from gateway.server import GatewayServer
    from gateway.sink import KafkaSink, NullSink, make_gateway_producer
    from stream.kafka.topics import Topics, ensure_topics

    async def main():
        if args.no_gc:
            gc.disable()
        if args.sink == "kafka":
            topics = Topics(args.namespace)
            ensure_topics(args.bootstrap, topics, args.partitions)
            sink = KafkaSink(make_gateway_producer(args.bootstrap), topics, args.partitions)
        else:
            sink = NullSink()
        limits = Limits(max_connections=100_000, max_per_address=100_000, idle_timeout_s=600)
        server = GatewayServer(Directory.from_mapping(registry(args.connections)), sink, limits)
        port = await server.start("127.0.0.1", args.port)
        cpu0 = time.process_time()
        print(json.dumps({"port": port}), flush=True)
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()
        stats = {"cpu_s": round(time.process_time() - cpu0, 2),
                 "frames": server.stats.c["frames"], "pings": server.stats.c["pings"],
                 "bad": dict(server.stats.bad), "refused": dict(server.stats.refused),
                 "unacknowledged": server.stats.c["pings_unacknowledged"]}  # fmt: skip
        await server.close()
        print(json.dumps(stats), flush=True)

    asyncio.run(main())


# -- the terminals ---------------------------------------------------------------------------


class Load:
    def __init__(self):
        self.latency: dict[str, list[float]] = {"location": [], "batch": []}
        self.sent_at: list[float] = []  # loop time each location was sent (by latency index)
        self.burst_at = 0.0
        self.ramp_end = 0.0
        self.dropped: dict[str, int] = {"location": 0, "batch": 0, "setup": 0}
        self.positions_acked = 0


def position(i: int, k: int) -> dict:
    return {"ts": T0_MS + k * 10_000, "lat": 31.4 + (i % 1000) / 5000, "speed_kmh": 30.0,
            "lng": 120.2 + (i // 1000) / 50, "heading": (7 * k) % 360, "acc": True}  # fmt: skip


async def terminal(i, port, args, load: Load, start_at: float, burst_at: float | None) -> None:
    from gateway.location import encode, encode_batch
    from gateway.messages import BATCH, LOCATION
    from gateway.terminals import TerminalClient, TerminalError, location_of

    t = TerminalClient(PHONE.format(i), "2019" if i % 3 == 2 else "2013", timeout_s=10)
    loop = asyncio.get_running_loop()
    await asyncio.sleep(max(0.0, start_at - loop.time()))
    try:
        await t.connect("127.0.0.1", port)
        if await t.register() != 0 or await t.authenticate() != 0:
            raise TerminalError("refused")
    except (TerminalError, OSError):
        load.dropped["setup"] += 1
        return
    burst = None
    if burst_at is not None:  # the blind-area batch goes over the same connection, meanwhile
        positions = [location_of(position(i, -j)) for j in range(args.burst_size, 0, -1)]
        body = encode_batch(positions, 1)  # encoded before the clock starts
        burst = asyncio.create_task(later(burst_at, t.request(BATCH, body), load, len(positions)))
    first = loop.time() + random.random() * args.interval
    end = first + args.duration
    k = 0
    while (due := first + k * args.interval) < end:
        await asyncio.sleep(max(0.0, due - loop.time()))
        body = encode(location_of(position(i, k)))
        await timed(t.request(LOCATION, body), "location", load, 1)
        k += 1
    if burst is not None:
        await burst
    await t.close()


async def later(when: float, call, load: Load, positions: int) -> None:
    await asyncio.sleep(max(0.0, when - asyncio.get_running_loop().time()))
    await timed(call, "batch", load, positions)


async def timed(call, kind: str, load: Load, positions: int) -> None:
    from gateway.terminals import TerminalError

    t0 = time.perf_counter()
    try:
        result = (await call)["result"]
    except (TerminalError, OSError):
        load.dropped[kind] += 1
        return
    load.latency[kind].append((time.perf_counter() - t0) * 1000)
    if kind == "location":
        load.sent_at.append(asyncio.get_running_loop().time() - load.latency[kind][-1] / 1000)
    if result != 0:
        load.dropped[kind] += 1
    else:
        load.positions_acked += positions


def steady(load: Load) -> list[float]:
    """Latencies of the locations sent once every connection was open (ramp + 5 s) and outside
    the burst (from 1 s before it to 5 s after): the steady load."""
    return [
        ms
        for ms, at in zip(load.latency["location"], load.sent_at, strict=True)
        if at > load.ramp_end and not load.burst_at - 1 <= at <= load.burst_at + 5
    ]


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    return round(s[min(len(s) - 1, int(q * len(s)))], 2)


async def drive(port: int, args) -> Load:
    load = Load()
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    burst_at = t0 + args.ramp + args.duration / 2
    load.burst_at = burst_at
    load.ramp_end = t0 + args.ramp + 5
    tasks = [
        terminal(
            i,
            port,
            args,
            load,
            t0 + args.ramp * i / args.connections,
            burst_at if i < args.burst else None,
        )  # fmt: skip
        for i in range(args.connections)
    ]
    await asyncio.gather(*tasks)
    return load


def run_one(sink: str, args) -> dict:
    if args.no_gc:
        gc.disable()
    ns = f"bgw{uuid.uuid4().hex[:8]}"
    cmd = [sys.executable, "-m", "bench.gateway", "--serve", "--sink", sink, "--namespace", ns,
           "--connections", str(args.connections), "--bootstrap", args.bootstrap,
           *(["--no-gc"] if args.no_gc else [])]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, cwd=Path(__file__).resolve().parents[1])
    try:
        port = json.loads(proc.stdout.readline())["port"]
        started, cpu0 = time.perf_counter(), time.process_time()
        load = asyncio.run(drive(port, args))
        wall, client_cpu = time.perf_counter() - started, time.process_time() - cpu0
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    server = json.loads(out.decode().strip().splitlines()[-1]) if out.strip() else {}
    row = {
        "sink": sink,
        "connections": args.connections,
        "locations": len(load.latency["location"]),
        "batches": len(load.latency["batch"]),
        "location_p50_ms": pct(load.latency["location"], 0.50),
        "location_p99_ms": pct(load.latency["location"], 0.99),
        "location_max_ms": pct(load.latency["location"], 1.0),
        # Locations sent outside the burst (from 1 s before it to 5 s after): the steady load.
        "location_p99_steady_ms": pct(steady(load), 0.99),
        "batch_p50_ms": pct(load.latency["batch"], 0.50),
        "batch_p99_ms": pct(load.latency["batch"], 0.99),
        "dropped": load.dropped,
        "positions_acked": load.positions_acked,
        "wall_s": round(wall, 1),
        "client_cpu_s": round(client_cpu, 1),
        "server": server,
    }
    if server.get("frames"):
        # CPU the gateway process spent per frame (Kafka client thread included): what bounds
        # its capacity whatever else runs on the machine.
        row["server_cpu_us_per_frame"] = round(server["cpu_s"] / server["frames"] * 1e6)
        row["server_cpu_share"] = round(server["cpu_s"] / wall, 3)
    if sink == "kafka":
        row["pings_in_topic"] = count_topic(args.bootstrap, f"{ns}.pings")
        from stream.kafka.topics import drop_namespace

        drop_namespace(args.bootstrap, ns)
    return row


def count_topic(bootstrap: str, topic: str) -> int:
    import orjson
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, consumer_timeout_ms=3000)
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        return sum(len(orjson.loads(r.value)) for r in consumer if r.value)
    finally:
        consumer.close()


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--connections", type=int, default=5000)
    p.add_argument("--interval", type=float, default=10.0, help="seconds between reports")
    p.add_argument("--duration", type=float, default=60.0, help="seconds of reporting")
    p.add_argument("--ramp", type=float, default=20.0, help="seconds to open the connections")
    p.add_argument("--burst", type=int, default=500, help="terminals sending a batch at once")
    p.add_argument("--burst-size", type=int, default=20, help="positions per batch")
    p.add_argument("--sinks", default="null,kafka")
    p.add_argument("--bootstrap", default=os.environ.get("LANDUN_KAFKA_BOOTSTRAP",
                                                         "127.0.0.1:9092"))  # fmt: skip
    p.add_argument("--json", action="store_true")
    p.add_argument("--no-gc", action="store_true", help="cyclic GC off in both processes")
    p.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--sink", default="null", help=argparse.SUPPRESS)
    p.add_argument("--namespace", default="bgw", help=argparse.SUPPRESS)
    p.add_argument("--partitions", type=int, default=8, help=argparse.SUPPRESS)
    p.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.serve:
        serve(args)
        return
    rows = [run_one(sink, args) for sink in args.sinks.split(",")]
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    for r in rows:
        print(json.dumps(r))


if __name__ == "__main__":
    main()
