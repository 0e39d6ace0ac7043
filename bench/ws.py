"""Websocket fan-out benchmark (issue 5 targets).

Runs the real API in a child process (uvicorn, in-memory ports) with a producer that plays the
engine's output — ``--vehicles`` positions every ``--period`` seconds, each stamped with the
wall-clock time it was produced as its event time — and, in this process, ``--map-clients``
``/ws/live`` clients each watching one district's viewport as that district's officer, then
``--alert-clients`` ``/ws/alerts`` clients receiving a burst of ``--alert-rate`` alerts/s.

Reports fan-out latency (produced → received) percentiles, the API process's CPU use, and
alerts lost per client (a client closed with 1013 resumes with ``?after=`` like the map page).

    .venv/bin/python -m bench.ws --seconds 30
    .venv/bin/python -m bench.ws --vehicles 10000 --map-clients 500 --alert-clients 50

Loopback only; every loop is bounded by ``--seconds``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import subprocess
import sys
import threading
import time
from datetime import datetime

import httpx
import orjson
from websockets.asyncio.client import connect

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
PASSWORD = "bench-password"
SECRET = "bench-secret-not-for-production-0123456789"


# --- the server side (child process) -----------------------------------------------------


def build_server_app(vehicles: int, period_s: float):
    """The API plus two bench-only routes that start the producer and report CPU."""
    from api.app import create_app
    from api.memory import memory_ports
    from api.security import Role, hash_password, make_user
    from api.settings import Settings

    digest = hash_password(PASSWORD)
    users = [make_user("city", Role.CITY, None, digest)]
    users += [make_user(f"d{i}", Role.DISTRICT, d, digest) for i, d in enumerate(DISTRICTS)]
    settings = Settings(secret_key=SECRET, ws_max_per_user=100_000, ws_alert_queue=4096)
    app = create_app(settings, memory_ports(users, alert_log_size=1_000_000))
    rng = random.Random(5)
    fleet = []
    for i in range(vehicles):
        district = list(DISTRICTS)[i % len(DISTRICTS)]
        w, s, e, n = DISTRICTS[district]
        fleet.append((f"V{i:05d}", district, rng.uniform(s, n), rng.uniform(w, e)))
    stats = {"positions": 0, "alerts": 0}

    def produce_positions(seconds: float) -> None:
        feed, tick = app.state.feed, 0.1
        per_tick = max(1, round(len(fleet) * tick / period_s))
        start, i = time.monotonic(), 0
        while time.monotonic() - start < seconds:
            for _ in range(per_tick):
                vid, district, lat, lng = fleet[i % len(fleet)]
                lat += rng.uniform(-1e-4, 1e-4)
                fleet[i % len(fleet)] = (vid, district, lat, lng)
                feed.position(
                    {
                        "vehicle": vid,
                        "district": district,
                        "kind": "muck",
                        "lat": lat,
                        "lng": lng,
                        "ts": int(time.time() * 1000),
                        "speed_kmh": 30,
                    }
                )
                i += 1
                stats["positions"] += 1
            time.sleep(max(0.0, tick - (time.monotonic() - start) % tick))

    def produce_alerts(count: int, rate: float) -> None:
        feed, start = app.state.feed, time.monotonic()
        for k in range(count):
            due = start + k / rate
            time.sleep(max(0.0, due - time.monotonic()))
            vid, district, lat, lng = fleet[k % len(fleet)]
            feed.alert(
                {
                    "id": f"B{k:06d}",
                    "type": "overspeed",
                    "vehicle": vid,
                    "district": district,
                    "severity": "medium",
                    "ts": int(time.time() * 1000),
                    "ended_ts": None,
                    "lat": lat,
                    "lng": lng,
                    "fence": None,
                    "permit": None,
                    "trip": None,
                    "late": False,
                    "evidence": {"rule": "bench", "thresholds": {}, "pings": []},
                }
            )
            stats["alerts"] += 1

    @app.post("/bench/positions")
    def start_positions(seconds: float) -> dict:
        threading.Thread(target=produce_positions, args=(seconds,), daemon=True).start()
        return {"ok": True}

    @app.post("/bench/alerts")
    def start_alerts(count: int, rate: float) -> dict:
        threading.Thread(target=produce_alerts, args=(count, rate), daemon=True).start()
        return {"ok": True}

    @app.get("/bench/cpu")
    def cpu() -> dict:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return {"cpu_s": usage.ru_utime + usage.ru_stime, "wall": time.monotonic(), **stats}

    return app


def serve(args) -> None:
    import uvicorn

    app = build_server_app(args.vehicles, args.period)
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        ws_max_size=16_384,
        ws_per_message_deflate=False,
    )


# --- the client side ----------------------------------------------------------------------


def iso_ms(text: str) -> float:
    return datetime.fromisoformat(text).timestamp() * 1000


async def map_client(base: str, token: str, bbox, deadline: float, latencies) -> None:
    url = base.replace("http", "ws") + "/ws/live"
    async with connect(url, subprotocols=["landun.v1", f"auth.{token}"], max_size=None) as ws:
        await ws.send(orjson.dumps({"type": "viewport", "bbox": list(bbox), "zoom": 13}).decode())
        while time.time() < deadline:
            try:
                raw = await asyncio.wait_for(ws.recv(), max(0.1, deadline - time.time()))
            except TimeoutError:
                break
            if latencies is None:
                continue  # a load client: receive, don't measure (the bench's CPU is scarce)
            frame = orjson.loads(raw)
            if frame["type"] == "positions":
                now = time.time() * 1000
                latencies.extend(now - iso_ms(p["ts"]) for p in frame["items"])


async def alert_client(base: str, token: str, expected: int, deadline: float) -> dict:
    seen, last, reconnects = set(), None, 0
    while time.time() < deadline and len(seen) < expected:
        query = f"?after={last}" if last is not None else ""
        url = base.replace("http", "ws") + "/ws/alerts" + query
        try:
            async with connect(
                url, subprotocols=["landun.v1", f"auth.{token}"], max_size=None
            ) as ws:
                while len(seen) < expected:
                    raw = await asyncio.wait_for(ws.recv(), max(0.1, deadline - time.time()))
                    frame = orjson.loads(raw)
                    if frame["type"] in ("snapshot", "resync"):
                        last = max(last or 0, frame["seq"])
                        seen.update(a["id"] for a in frame["alerts"] if a["id"].startswith("B"))
                        continue
                    for event in frame["events"] if frame["type"] == "batch" else [frame]:
                        last = max(last or 0, event["seq"])
                        seen.add(event["alert"]["id"])
        except TimeoutError:
            break
        except Exception:  # closed (1013) or refused: resume from the last seq, as the page does
            reconnects += 1
    return {"received": len(seen), "reconnects": reconnects}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def run_clients(args, base: str) -> dict:
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        tokens = {}
        for name in ["city"] + [f"d{i}" for i in range(len(DISTRICTS))]:
            r = await http.post("/api/auth/login", json={"username": name, "password": PASSWORD})
            tokens[name] = r.json()["access_token"]
        latencies: list[float] = []
        warmup = min(5.0, args.seconds / 4)
        deadline = time.time() + warmup + args.seconds
        boxes = list(DISTRICTS.values())
        maps = [
            asyncio.create_task(
                map_client(
                    base,
                    tokens[f"d{i % 8}"],
                    boxes[i % 8],
                    deadline,
                    latencies if i % args.probe_every == 0 else None,
                )
            )
            for i in range(args.map_clients)
        ]
        await asyncio.sleep(warmup)  # let every client connect
        cpu0 = (await http.get("/bench/cpu")).json()
        mine0 = resource.getrusage(resource.RUSAGE_SELF)
        await http.post("/bench/positions", params={"seconds": args.seconds})
        await asyncio.gather(*maps, return_exceptions=True)
        cpu1 = (await http.get("/bench/cpu")).json()
        mine1 = resource.getrusage(resource.RUSAGE_SELF)
        client_cpu = (mine1.ru_utime + mine1.ru_stime) - (mine0.ru_utime + mine0.ru_stime)
        # Alert burst: a fresh window, so the two loads are measured apart.
        count = int(args.alert_rate * args.alert_seconds)
        alert_deadline = time.time() + args.alert_seconds + 30
        alerts = [
            asyncio.create_task(alert_client(base, tokens["city"], count, alert_deadline))
            for _ in range(args.alert_clients)
        ]
        await asyncio.sleep(1.0)
        await http.post("/bench/alerts", params={"count": count, "rate": args.alert_rate})
        results = await asyncio.gather(*alerts)
    measured = latencies[len(latencies) // 10 :]  # skip the first tenth (warm-up)
    return {
        "vehicles": args.vehicles,
        "period_s": args.period,
        "map_clients": args.map_clients,
        "positions_produced": cpu1["positions"] - cpu0["positions"],
        "positions_measured": len(latencies),
        "fanout_ms_p50": round(percentile(measured, 0.50), 1),
        "fanout_ms_p99": round(percentile(measured, 0.99), 1),
        "api_cores": round((cpu1["cpu_s"] - cpu0["cpu_s"]) / (cpu1["wall"] - cpu0["wall"]), 2),
        "client_cores": round(client_cpu / (cpu1["wall"] - cpu0["wall"]), 2),
        "alert_clients": args.alert_clients,
        "alerts_sent": count,
        "alerts_min_received": min(r["received"] for r in results) if results else 0,
        "alert_reconnects": sum(r["reconnects"] for r in results),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", nargs="?", default="run", choices=["run", "serve"])
    parser.add_argument("--port", type=int, default=8799)
    parser.add_argument("--vehicles", type=int, default=10_000)
    parser.add_argument("--period", type=float, default=10.0, help="seconds between updates")
    parser.add_argument("--map-clients", type=int, default=500)
    parser.add_argument("--alert-clients", type=int, default=50)
    parser.add_argument(
        "--probe-every", type=int, default=10, help="every Nth map client measures latency"
    )
    parser.add_argument("--alert-rate", type=float, default=1000.0)
    parser.add_argument("--alert-seconds", type=float, default=3.0)
    parser.add_argument("--seconds", type=float, default=30.0, help="position phase length")
    parser.add_argument(
        "--external", action="store_true", help="use a server already running on --port"
    )
    args = parser.parse_args(argv)
    if args.mode == "serve":
        serve(args)
        return 0
    if args.external:  # a server started by hand, e.g. under a profiler
        base = f"http://127.0.0.1:{args.port}"
        print(json.dumps(asyncio.run(run_clients(args, base)), ensure_ascii=False, indent=2))
        return 0
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench.ws",
            "serve",
            "--port",
            str(args.port),
            "--vehicles",
            str(args.vehicles),
            "--period",
            str(args.period),
        ]
    )
    base = f"http://127.0.0.1:{args.port}"
    try:
        for _ in range(200):
            try:
                if httpx.get(base + "/livez", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        print(json.dumps(asyncio.run(run_clients(args, base)), ensure_ascii=False, indent=2))
    finally:
        child.terminate()
        child.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
