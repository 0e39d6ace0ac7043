"""The websocket bench's load generator, a process of its own (issue 15).

It used to run as threads inside the API process, so its work was billed as API CPU. Now it is
this subprocess: it plays the engine's output — positions of ``--vehicles`` every ``--period``
seconds, or a burst of alerts — each stamped with the wall-clock time it was produced as its
event time, and hands them to the API in batches (``POST /bench/intake``, one request per 100 ms
tick for positions, per 10 ms for alerts). Everything it produced is written to ``--out`` (JSON
lines) so the clients' receipts can be checked against it: what was due, what arrived, what is
missing.

    python -m bench.ws_load positions --base URL --vehicles 10000 --period 10 --seconds 30 --out F
    python -m bench.ws_load alerts --base URL --count 3000 --rate 1000 --prefix B0f --out F

Prints one JSON line: ``produced``, ``cpu_s`` (this process), ``behind_s`` (how far the pacing
fell behind its schedule at worst: an API slow to take the batches slows the offered rate) and
``seconds`` (wall time of the production).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time

import httpx
import orjson

# Rough district boxes (west, south, east, north) around Wuxi, for placing and watching.
DISTRICTS = {
    "梁溪": (120.26, 31.54, 120.34, 31.60),
    "锡山": (120.34, 31.56, 120.46, 31.66),
    "惠山": (120.18, 31.62, 120.30, 31.72),
    "滨湖": (120.18, 31.44, 120.30, 31.54),
    "新吴": (120.36, 31.46, 120.50, 31.56),
    "经开": (120.28, 31.46, 120.36, 31.54),
    "江阴": (120.20, 31.80, 120.40, 31.92),
    "宜兴": (119.76, 31.30, 119.90, 31.42),
}


def fleet(vehicles: int, seed: int = 5) -> list[list]:
    """``[vehicle, district, lat, lng]`` per vehicle, spread over the district boxes."""
    rng = random.Random(seed)
    out = []
    for i in range(vehicles):
        district = list(DISTRICTS)[i % len(DISTRICTS)]
        w, s, e, n = DISTRICTS[district]
        out.append([f"V{i:05d}", district, rng.uniform(s, n), rng.uniform(w, e)])
    return out


def positions(http: httpx.Client, args) -> tuple[list[dict], float]:
    """Post positions for ``args.seconds``; what was produced and the worst pacing lag."""
    cars, rng, tick = fleet(args.vehicles), random.Random(7), 0.1
    per_tick = max(1, round(len(cars) * tick / args.period))
    produced, behind, i = [], 0.0, 0
    start = time.monotonic()
    for k in range(int(args.seconds / tick)):
        lag = time.monotonic() - (start + k * tick)
        if lag < 0:
            time.sleep(-lag)
        behind = max(behind, lag)
        batch = []
        for _ in range(per_tick):
            car = cars[i % len(cars)]
            car[2] += rng.uniform(-1e-4, 1e-4)
            batch.append(
                {"vehicle": car[0], "district": car[1], "kind": "muck", "lat": car[2],
                 "lng": car[3], "ts": int(time.time() * 1000), "speed_kmh": 30}
            )  # fmt: skip
            i += 1
        http.post("/bench/intake", content=orjson.dumps({"positions": batch})).raise_for_status()
        produced += batch
    return produced, behind


def alerts(http: httpx.Client, args) -> tuple[list[dict], float]:
    """Post ``args.count`` alerts at ``args.rate`` per second."""
    cars, tick = fleet(max(1, args.vehicles)), 0.01
    produced, behind, k = [], 0.0, 0
    start = time.monotonic()
    while k < args.count:
        due = min(args.count, int((time.monotonic() - start) * args.rate) + 1)
        batch = []
        for j in range(k, due):
            vid, district, lat, lng = cars[j % len(cars)]
            batch.append(
                {"id": f"{args.prefix}{j:06d}", "type": "overspeed", "vehicle": vid,
                 "district": district, "severity": "medium", "ts": int(time.time() * 1000),
                 "ended_ts": None, "lat": lat, "lng": lng, "fence": None, "permit": None,
                 "trip": None, "late": False,
                 "evidence": {"rule": "bench", "thresholds": {}, "pings": []}}
            )  # fmt: skip
        behind = max(behind, (time.monotonic() - start) - k / args.rate)
        k = due
        if batch:
            body = orjson.dumps({"alerts": batch})
            http.post("/bench/intake", content=body).raise_for_status()
            produced += batch
        time.sleep(tick)
    return produced, behind


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("what", choices=["positions", "alerts"])
    p.add_argument("--base", required=True)
    p.add_argument("--vehicles", type=int, default=10_000)
    p.add_argument("--period", type=float, default=10.0)
    p.add_argument("--seconds", type=float, default=30.0)
    p.add_argument("--count", type=int, default=3000)
    p.add_argument("--rate", type=float, default=1000.0)
    p.add_argument("--prefix", default="B")
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    c0, t0 = time.process_time(), time.monotonic()
    with httpx.Client(base_url=args.base, timeout=30) as http:
        made, behind = (positions if args.what == "positions" else alerts)(http, args)
    with open(args.out, "wb") as fh:
        for item in made:
            fh.write(orjson.dumps(item) + b"\n")
    cpu, wall = time.process_time() - c0, time.monotonic() - t0
    print(
        json.dumps(
            {"produced": len(made), "cpu_s": round(cpu, 2), "behind_s": round(behind, 3),
             "seconds": round(wall, 2)}  # the real rate is produced / seconds
        )
    )  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
