"""`landun sim-terminals`: the simulated fleet as JT/T 808 terminals, over real sockets.

Simulates a fleet night (the simulator of `landun sim`: same --vehicles, --hours, --seed,
--start give the same tracks) and plays every registered vehicle as a terminal connected to
--gateway HOST:PORT, paced by the reports' arrival times at --rate times real time: it registers
(0x0100), authenticates (0x0102), reports each position (0x0200, every 10-30 s as the vehicle's
terminal does), sends a heartbeat (0x0002) through every minute without a report, drops its
connection across a gap of more than five minutes and, on the way back, reconnects,
authenticates again and re-sends what it buffered in blind areas as 0x0704 type 1 batches. A
position the gateway does not acknowledge is sent again (as a terminal keeps its buffer).

--start defaults to now, so that the positions' times are near the gateway's clock (a gateway
stamps `received` with its own clock and the engine refuses positions days old). --out DIR
writes what the gateway and the workers need for this fleet: registry.json (with the terminals'
datum and load-sensor keys), fences.geojson and vendors.json (the items carrying lift and
cover); then `landun gateway --registry DIR/registry.json --vendors DIR/vendors.json`.
Prints a JSON summary. Exit codes: 0 done; 1 the gateway unreachable; 2 bad arguments.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

HEARTBEAT_MS = 60_000  # a terminal's default heartbeat interval
OFFLINE_MS = 5 * 60_000  # a gap longer than this: the terminal lost its connection
# Blind-area positions re-sent within a second of each other go in one 0x0704, at most 20 (a
# body holds 1,023 bytes; a position with lift and cover items takes 36).
BATCH_WITHIN_MS, BATCH_MAX = 1_000, 20


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `sim-terminals` sub-command."""
    p = subparsers.add_parser(
        "sim-terminals",
        help="drive a JT/T 808 gateway with the simulated fleet over real sockets",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--gateway", required=True, help="HOST:PORT of the gateway")
    p.add_argument("--vehicles", type=int, default=20, help="fleet size (default 20)")
    p.add_argument("--hours", type=float, default=1.0, help="horizon in hours (default 1)")
    p.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    p.add_argument("--start", default="now", help="start, ISO 8601 with an offset, or now")
    p.add_argument("--rate", type=float, default=1.0, help="x real time (default 1)")
    p.add_argument(
        "--version",
        choices=("2013", "2019", "mixed"),
        default="mixed",
        help="the terminals' protocol version (mixed: every third one 2019)",
    )
    p.add_argument("--out", help="write registry.json, fences.geojson, vendors.json here")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from landun.commands.sim import parse_start
    from sim import simulate

    try:
        host, _, port = args.gateway.rpartition(":")
        port = int(port)
        if args.start == "now":
            start_ms = (int(time.time()) // 60) * 60_000
        else:
            start_ms = parse_start(args.start)
        if args.vehicles < 1 or args.hours <= 0 or args.rate <= 0:
            raise ValueError("--vehicles must be >= 1, --hours and --rate > 0")
    except ValueError as exc:
        print(f"landun sim-terminals: {exc}", file=sys.stderr)
        return 2
    sim = simulate(args.vehicles, args.hours, args.seed, start_ms)
    if args.out:
        write_files(sim, Path(args.out))
    try:
        summary = asyncio.run(drive(sim, host or "127.0.0.1", port, args.rate, args.version))
    except OSError as exc:
        print(f"landun sim-terminals: gateway {args.gateway}: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(summary))
    return 0


def terminal_registry(world) -> dict:
    """The simulation's registry with the gateway's keys on each vehicle: ``terminal_datum``
    (the forwarded vehicles report GCJ-02), ``load_sensor`` (only muck trucks with sensors have
    one) and ``terminal_manufacturer`` (the simulated terminals' vendor profile)."""
    from gateway.terminals import SIM_MANUFACTURER
    from sim import writer

    doc = writer.registry(world)
    by_id = {v.id: v for v in world.vehicles}
    for entry in doc["vehicles"]:
        v = by_id[entry["id"]]
        entry["terminal_datum"] = "gcj02" if v.forwarded else "wgs84"
        entry["load_sensor"] = bool(v.kind == "muck" and v.sensors)
        entry["terminal_manufacturer"] = SIM_MANUFACTURER
    return doc


def write_files(sim, out: Path) -> None:
    """registry.json, fences.geojson and vendors.json for a gateway and workers of ``sim``."""
    from gateway.terminals import SIM_VENDOR
    from sim import writer

    out.mkdir(parents=True, exist_ok=True)
    (out / "registry.json").write_text(json.dumps(terminal_registry(sim.world), ensure_ascii=False))
    (out / "fences.geojson").write_text(json.dumps(writer.fences(sim.world), ensure_ascii=False))
    (out / "vendors.json").write_text(json.dumps(SIM_VENDOR))


def reports(sim) -> dict[str, list[tuple[int, list[dict], bool]]]:
    """Per registered vehicle, what its terminal sends: ``(arrival ms, pings, blind_area)`` in
    arrival order; blind-area re-sends arriving together are batches. Re-sends of a position
    already sent (``dup``) are left to the protocol: a terminal repeats what was not
    acknowledged, nothing else."""
    from sim import writer

    vehicles = {v.id: v for v in sim.world.vehicles}
    rows = sorted(
        (vr for vr in sim.records if vr[0] in vehicles and not vr[1].dup),
        key=lambda vr: (vr[1].arrival, vr[0], vr[1].seq),
    )
    out: dict[str, list[tuple[int, list[dict], bool]]] = {}
    for vid, rec in rows:
        ping = writer.ping(vehicles[vid], vid, rec)
        sent = out.setdefault(vid, [])
        joins = sent and sent[-1][2] and rec.arrival - sent[-1][0] <= BATCH_WITHIN_MS
        if rec.backfill and joins and len(sent[-1][1]) < BATCH_MAX:
            sent[-1][1].append(ping)
        else:
            sent.append((rec.arrival, [ping], rec.backfill))
    return out


async def drive(
    sim, host: str, port: int, rate: float, version: str = "mixed", clock=time.monotonic
) -> dict:
    """Play every registered vehicle of ``sim`` as a terminal against ``host:port``; returns
    counts (messages by kind, retransmissions, reconnections, refusals)."""
    from gateway.header import V2013, V2019

    plan = reports(sim)
    first = min((r[0][0] for r in plan.values() if r), default=0)
    t0 = clock()
    phones = {v.id: v.terminal_phone for v in sim.world.vehicles}
    counts: dict[str, int] = {}
    tasks = []
    for i, (vid, sends) in enumerate(sorted(plan.items())):
        v = V2019 if version == "2019" or (version == "mixed" and i % 3 == 2) else V2013
        due = lambda arrival: t0 + (arrival - first) / 1000.0 / rate  # noqa: E731
        tasks.append(_terminal(phones[vid], v, sends, host, port, due, rate, clock, counts))
    await asyncio.gather(*tasks)
    return {"terminals": len(tasks), "started": datetime.now(UTC).isoformat(), **counts}


async def _terminal(phone, version, sends, host, port, due, rate, clock, counts) -> None:
    """One vehicle's terminal through its night."""
    from gateway.terminals import TerminalClient, TerminalError

    def count(key: str, n: int = 1) -> None:
        counts[key] = counts.get(key, 0) + n

    t = TerminalClient(phone, version, timeout_s=10)
    online = False
    last = None
    for arrival, pings, blind in sends:
        if online and last is not None and arrival - last > OFFLINE_MS:
            await t.close()  # out of coverage / switched off: the connection is gone
            online = False
            count("disconnects")
        while online and last is not None and arrival - last > HEARTBEAT_MS:
            last += HEARTBEAT_MS
            await _sleep_until(due(last), clock)
            await _retrying(t.heartbeat, count)
        await _sleep_until(due(arrival), clock)
        if not online:
            online = await _connect(t, host, port, count)
            if not online:
                return
        call = (lambda p=pings: t.batch(p, True)) if blind else (lambda p=pings: t.location(p[0]))
        try:
            result = await _retrying(call, count)
        except TerminalError:
            count("lost")
            return
        count("batches" if blind else "locations")
        if result != 0:
            count("refused")
        last = arrival
    if online:
        await _retrying(t.logout, count)
        await t.close()


async def _connect(t, host, port, count) -> bool:
    """Connect; authenticate with the code held, registering first when there is none or it
    is refused. False when the gateway refuses the terminal."""
    await t.connect(host, port)
    count("connections")
    if t.auth_code and await t.authenticate() == 0:
        return True
    if await t.register() != 0:
        count("registration_refused")
        await t.close()
        return False
    return await t.authenticate() == 0


async def _retrying(call, count, tries: int = 5):
    """A request sent again while unacknowledged (the gateway's sink down), as terminals do."""
    from gateway.terminals import TerminalError

    for attempt in range(tries):
        try:
            return await call()
        except TerminalError:
            if attempt == tries - 1:
                raise
            count("retransmissions")


async def _sleep_until(when: float, clock) -> None:
    wait = when - clock()
    if wait > 0:
        await asyncio.sleep(wait)
