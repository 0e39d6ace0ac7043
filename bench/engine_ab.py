"""Engine throughput of two checkouts on the same input, in the same run (issue 11, issue 15).

``python bench/engine_ab.py --before DIR --after DIR --data DIR [--rounds 5]``

``--data`` holds ``pings.jsonl``, ``fences.geojson`` and ``registry.json`` (``landun sim``
writes them; generate them with the *before* checkout so that both sides can read them). Each
round runs each side once, alternating (before, after, after, before, ...), in a fresh
subprocess whose ``PYTHONPATH`` starts with that side's checkout: the pings are parsed, then the
engine (``process`` in chunks, then ``finish``) is timed in CPU seconds. Alternating and taking
the best and the median of each side keep the comparison honest on a shared, noisy machine
(docs/benchmarks.md). Only the public engine API is used, so any two commits can be compared.

Prints one JSON object: per side the pings, the alerts and the best/median pings per second,
and ``after_over_before`` (best and median ratios).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

CHUNK = 16_384  # pings per process() call, as landun detect


def run_side(data: Path) -> dict:
    """One timed engine run over ``data`` with whatever ``stream`` is first on sys.path."""
    here = Path(__file__).resolve().parent  # bench/geofence.py would shadow the package
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != here]
    import orjson

    from geofence import FenceIndex, load_fences
    from stream.engine import EngineContext, EngineState, finish, process
    from stream.ping import parse_ping
    from stream.registry import Registry

    lines = (data / "pings.jsonl").read_bytes().splitlines()
    pings = [parse_ping(line, ref=n) for n, line in enumerate(lines, start=1) if line.strip()]
    index = FenceIndex(load_fences(str(data / "fences.geojson")))
    registry = Registry.from_mapping(orjson.loads((data / "registry.json").read_bytes()))
    ctx = EngineContext(index, registry)
    t0 = time.process_time()
    states, alerts = EngineState(), set()
    for start in range(0, len(pings), CHUNK):
        states, events = process(pings[start : start + CHUNK], ctx, states)
        alerts.update(p["id"] for k, p in events if k == "alert")
    states, events = finish(ctx, states)
    alerts.update(p["id"] for k, p in events if k == "alert")
    cpu = time.process_time() - t0
    import stream

    return {"pings": len(pings), "alerts": len(alerts), "cpu_s": cpu, "stream": stream.__file__}


def _spawn(checkout: Path, data: Path) -> dict:
    env = dict(os.environ, PYTHONPATH=str(checkout.resolve()))
    out = subprocess.run(
        [sys.executable, __file__, "--side-run", str(data)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def compare(before: Path, after: Path, data: Path, rounds: int) -> dict:
    """Alternate the two sides ``rounds`` times each; summarise."""
    runs: dict[str, list[dict]] = {"before": [], "after": []}
    order = [("before", before), ("after", after)]
    for r in range(rounds):
        for name, checkout in order if r % 2 == 0 else reversed(order):
            runs[name].append(_spawn(checkout, data))
    report: dict = {}
    for name, rs in runs.items():
        rates = [r["pings"] / r["cpu_s"] for r in rs]
        report[name] = {
            "checkout": str(Path(rs[0]["stream"]).parent.parent),
            "pings": rs[0]["pings"],
            "alerts": rs[0]["alerts"],
            "best_pings_per_s": round(max(rates)),
            "median_pings_per_s": round(statistics.median(rates)),
        }
    b, a = report["before"], report["after"]
    report["after_over_before"] = {
        "best": round(a["best_pings_per_s"] / b["best_pings_per_s"], 3),
        "median": round(a["median_pings_per_s"] / b["median_pings_per_s"], 3),
    }
    report["rounds"] = rounds
    return report


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", type=Path)
    ap.add_argument("--after", type=Path, default=Path(__file__).resolve().parent.parent)
    ap.add_argument("--data", type=Path)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--side-run", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.side_run is not None:
        print(json.dumps(run_side(args.side_run)))
        return 0
    if args.before is None or args.data is None:
        ap.error("--before and --data are required")
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script too
    from bench import stamp as stamping  # here: the side runs must not import bench/

    stamp = stamping.start(["bench.engine_ab", *(sys.argv[1:] if argv is None else argv)])
    report = compare(args.before, args.after, args.data, args.rounds)
    report["stamp"] = stamping.end(stamp)  # the commit is the --after checkout's if it is this one
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
