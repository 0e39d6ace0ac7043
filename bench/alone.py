"""Alone = fleet benchmark (issue 11, docs/domain.md "Reproducibility").

``python -m bench.alone [--vehicles 300 --hours 12 --seed 31 --json]``

A simulated night (``sim.simulate``: ``--vehicles`` over ``--hours`` from the simulator's default
start, 18:00 Beijing, with every noise the simulator injects: jitter, latency, blind-area
backfill, clocks in the future and reset to 2000, duplicates, jumps) is run through the engine
once as a fleet (``process`` in chunks, then ``finish``); then each vehicle's pings alone, in
their arrival order, with the same context and ``finish(until_ms=)`` at the fleet run's final
watermark (the same time range). A vehicle is *identical* when its alerts (the final version of
each id, whole payloads, ids included) and its trip/round records equal those of the fleet run.

Two passes: the pings as ``landun sim`` writes them (``received`` = arrival time: the clock
checks use it) and with ``received`` removed (the clock checks use the vehicle's own history).
Prints, per pass, the share of identical vehicles (target: 100 %), the differing vehicles (at
most ``--show``), and the CPU time of the fleet run and of all the alone runs.

Numbers depend on the machine and its load (reported); nothing asserts them.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict

from bench.engine import machine
from geofence import FenceIndex, load_fences
from sim import DEFAULT_START, feed, simulate, writer
from stream.engine import EngineContext, EngineState, finish, process
from stream.eventtime import parse_ts
from stream.ping import parse_ping
from stream.registry import Registry

CHUNK = 16_384  # pings per process() call, as landun detect
TARGET = 1.0


def run(
    ctx: EngineContext, pings, until_ms: int | None = None, chunk: int = CHUNK
) -> tuple[EngineState, list]:
    """``landun detect``'s loop: process in chunks of ``chunk`` pings (state carried), then
    finish; shared with tests/stream/engine/test_alone_is_fleet.py (issue 11)."""
    states, events = EngineState(), []
    for start in range(0, len(pings), chunk):
        states, more = process(pings[start : start + chunk], ctx, states)
        events += more
    states, more = finish(ctx, states, until_ms=until_ms)
    return states, events + more


def by_vehicle(events: list) -> dict[str, dict]:
    """Per vehicle: the final version of each alert and trip/round record, by (kind, id)."""
    out: dict[str, dict] = defaultdict(dict)
    for kind, payload in events:
        if kind in ("alert", "trip"):
            out[payload["vehicle"]][(kind, payload["id"])] = payload
    return out


def compare(ctx: EngineContext, pings: list, show: int) -> dict:
    """Fleet run once, each vehicle alone; the share of vehicles with identical output."""
    t0 = time.process_time()
    states, events = run(ctx, pings)
    fleet_s = time.process_time() - t0
    fleet = by_vehicle(events)
    own: dict[str, list] = defaultdict(list)
    for p in pings:
        own[p.vehicle].append(p)
    differing = []
    t0 = time.process_time()
    for vehicle, mine in sorted(own.items()):
        _, alone = run(ctx, mine, until_ms=states.watermark)
        if by_vehicle(alone).get(vehicle, {}) != fleet.get(vehicle, {}):
            differing.append(vehicle)
    alone_s = time.process_time() - t0
    rejected: dict[str, int] = defaultdict(int)
    for kind, payload in events:
        if kind == "rejected":
            rejected[payload["reason"]] += 1
    n = len(own)
    return {
        "vehicles": n,
        "identical": n - len(differing),
        "share": round((n - len(differing)) / n, 4) if n else 1.0,
        "met": (n - len(differing)) >= TARGET * n,
        "differing": differing[:show],
        "alerts": sum(1 for v in fleet.values() for k in v if k[0] == "alert"),
        "records": sum(1 for v in fleet.values() for k in v if k[0] == "trip"),
        "rejected": dict(sorted(rejected.items())),
        "fleet_cpu_s": round(fleet_s, 2),
        "alone_cpu_s": round(alone_s, 2),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m bench.alone",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--vehicles", type=int, default=300)
    ap.add_argument("--hours", type=float, default=12.0)
    ap.add_argument("--seed", type=int, default=31, help="a seed the tests do not use")
    ap.add_argument("--start", default=DEFAULT_START)
    ap.add_argument("--show", type=int, default=20, help="differing vehicles listed at most")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args(argv)

    t0 = time.monotonic()
    sim = simulate(args.vehicles, args.hours, args.seed, parse_ts(args.start))
    ctx = EngineContext(
        FenceIndex(load_fences(writer.fences(sim.world))),
        Registry.from_mapping(writer.registry(sim.world)),
    )
    wires = [w for _, w in feed.arrivals(sim)]
    sim_s = time.monotonic() - t0
    stamped = [parse_ping(w, ref=n) for n, w in enumerate(wires, start=1)]
    bare = [
        parse_ping({k: v for k, v in w.items() if k != "received"}, ref=n)
        for n, w in enumerate(wires, start=1)
    ]
    report = {
        "machine": machine(),
        "night": {
            "vehicles": args.vehicles,
            "hours": args.hours,
            "seed": args.seed,
            "start": args.start,
            "pings": len(wires),
            "simulate_s": round(sim_s, 1),
        },
        "received": compare(ctx, stamped, args.show),
        "own_history": compare(ctx, bare, args.show),
        "target_share": TARGET,
    }
    if args.json:
        print(json.dumps(report))
    else:
        night = report["night"]
        print(f"night: {night['vehicles']} vehicles x {night['hours']} h, seed {night['seed']}, "
              f"{night['pings']} pings")  # fmt: skip
        for name in ("received", "own_history"):
            r = report[name]
            print(
                f"{name}: {r['identical']}/{r['vehicles']} vehicles identical "
                f"({100 * r['share']:.1f} %, target 100 %); fleet {r['fleet_cpu_s']} s, "
                f"alone {r['alone_cpu_s']} s CPU; {r['alerts']} alerts; differing: {r['differing']}"
            )
    return 0 if report["received"]["met"] and report["own_history"]["met"] else 1


if __name__ == "__main__":
    sys.exit(main())
