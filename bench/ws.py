"""Websocket fan-out benchmark (issue 5 targets, made honest by issue 15).

Three kinds of process: the real API (``python -m bench.ws serve``: uvicorn, in-memory ports,
one bench-only intake route), the load generator (``bench.ws_load``, a subprocess of its own: it
used to be threads of the API process, billed as API CPU), and this process, which runs the
websocket clients — ``/ws/live`` clients each watching one district's viewport as that
district's officer, then ``/ws/alerts`` clients receiving a burst of alerts.

Each round has two phases in the same run, so every figure has its **baseline** taken under the
same machine load: *light* (one probe client per district, one alert client: the floor of the
chain generator → API → websocket → client on this machine now) then *full* (``--map-clients``
map clients, every ``--probe-every``-th measuring, and ``--alert-clients`` alert clients).
``--rounds`` repeats light, full, light, full...

Reported per phase: positions and alerts **due, delivered, late (> ``--deadline-ms``) and
missing**, and p50/p99/max latency (production → receipt) **over everything due, missing
ranked as +inf** (``bench.ws_account``); API cores = CPU of the API process only (the
generator's CPU is reported apart), with the intake route's own share (decoding the bench's
batches and the ``Feed`` calls) given beside it. Everything is stamped (``bench.stamp``).

    .venv/bin/python -m bench.ws --vehicles 2000 --map-clients 100 --seconds 20
    .venv/bin/python -m bench.ws --vehicles 10000 --map-clients 500 --alert-clients 50

Loopback only; every loop is bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import orjson
from fastapi import Request  # at module level: the route's annotation is resolved here

from bench import stamp as stamping
from bench.ws_account import (
    alert_latencies,
    due_positions,
    position_latencies,
    summary,
)
from bench.ws_clients import alert_client, map_client
from bench.ws_load import DISTRICTS

PASSWORD = "bench-password"
SECRET = "bench-secret-not-for-production-0123456789"
ROOT = Path(__file__).resolve().parents[1]


# --- the server side (child process) -----------------------------------------------------


def build_server_app():
    """The API plus the bench-only routes: ``POST /bench/intake`` (positions and alerts from
    the generator, through ``app.state.feed`` as the engine's consumer would) and
    ``GET /bench/cpu``."""
    from starlette.concurrency import run_in_threadpool

    from api.app import create_app
    from api.memory import memory_ports
    from api.security import Role, hash_password, make_user
    from api.settings import Settings

    digest = hash_password(PASSWORD)
    users = [make_user("city", Role.CITY, None, digest)]
    users += [make_user(f"d{i}", Role.DISTRICT, d, digest) for i, d in enumerate(DISTRICTS)]
    settings = Settings(secret_key=SECRET, ws_max_per_user=100_000, ws_alert_queue=4096)
    app = create_app(settings, memory_ports(users, alert_log_size=1_000_000))
    stats = {"positions": 0, "alerts": 0, "intake_cpu_s": 0.0}

    def take(body: bytes) -> None:
        # Thread CPU of the decoding and the Feed calls: the intake's share of the API's CPU
        # (in production the consumer of the engine's topics does this work).
        t0 = time.thread_time()
        doc = orjson.loads(body)
        feed = app.state.feed
        for position in doc.get("positions", ()):
            feed.position(position)
        for alert in doc.get("alerts", ()):
            feed.alert(alert)
        stats["positions"] += len(doc.get("positions", ()))
        stats["alerts"] += len(doc.get("alerts", ()))
        stats["intake_cpu_s"] += time.thread_time() - t0

    @app.post("/bench/intake")
    async def intake(request: Request) -> dict:
        await run_in_threadpool(take, await request.body())
        return {"ok": True}

    @app.get("/bench/cpu")
    def cpu() -> dict:
        usage = resource.getrusage(resource.RUSAGE_SELF)  # this process: the API only
        return {"cpu_s": usage.ru_utime + usage.ru_stime, "wall": time.monotonic(), **stats}

    return app


def serve(fd: int) -> None:
    """Serve on an inherited listening socket: the parent bound it, so no other process can
    take the port between choosing and binding it (issue 15: ``free_port`` raced)."""
    import uvicorn

    uvicorn.run(
        build_server_app(),
        fd=fd,
        log_level="warning",
        ws_max_size=16_384,
        ws_per_message_deflate=False,
    )


# --- one phase ------------------------------------------------------------------------------


async def _generate(args, base: str, what: str, out: Path, **extra) -> dict:
    cmd = [sys.executable, "-m", "bench.ws_load", what, "--base", base, "--out", str(out)]
    cmd += ["--vehicles", str(args.vehicles), "--period", str(args.period)]
    for key, value in extra.items():
        cmd += [f"--{key}", str(value)]
    proc = await asyncio.create_subprocess_exec(*cmd, cwd=ROOT, stdout=asyncio.subprocess.PIPE)
    stdout, _ = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"load generator failed ({proc.returncode})")
    return json.loads(stdout.decode().strip().splitlines()[-1])


def _read(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line]


async def _cpu(http: httpx.AsyncClient) -> dict:
    return (await http.get("/bench/cpu")).json()


def _usage(c0: dict, c1: dict, mine0, mine1) -> dict:
    wall = c1["wall"] - c0["wall"]
    mine = (mine1.ru_utime + mine1.ru_stime) - (mine0.ru_utime + mine0.ru_stime)
    return {
        "api_cores": round((c1["cpu_s"] - c0["cpu_s"]) / wall, 3),
        "api_intake_cores": round((c1["intake_cpu_s"] - c0["intake_cpu_s"]) / wall, 3),
        "client_cores": round(mine / wall, 2),
    }


async def position_phase(args, http, base: str, tokens: dict, clients: int, work: Path) -> dict:
    boxes = list(DISTRICTS.items())
    stop = [float("inf")]
    probes: list[tuple[str, tuple, list]] = []
    tasks = []
    for i in range(clients):
        district, bbox = boxes[i % len(boxes)]
        receipts = [] if clients <= len(boxes) or i % args.probe_every == 0 else None
        if receipts is not None:
            probes.append((district, bbox, receipts))
        token = tokens[f"d{i % len(boxes)}"]
        tasks.append(asyncio.create_task(map_client(base, token, bbox, stop, receipts)))
    await asyncio.sleep(args.warmup)  # let every client connect and take its snapshot
    c0, mine0 = await _cpu(http), resource.getrusage(resource.RUSAGE_SELF)
    out = work / f"positions-{time.monotonic_ns()}.jsonl"
    gen = await _generate(args, base, "positions", out, seconds=args.seconds)
    await asyncio.sleep(args.deadline_ms / 1000 + 1.0)  # what is late still counts
    c1, mine1 = await _cpu(http), resource.getrusage(resource.RUSAGE_SELF)
    stop[0] = 0.0
    ends = await asyncio.gather(*tasks, return_exceptions=True)
    # Why clients ended early (their later positions count as missing): a closed socket, a
    # refused connection...
    failures: dict[str, int] = {}
    for r in ends:
        if r is not None:
            reason = f"{type(r).__name__}: {str(r)[:80]}"
            failures[reason] = failures.get(reason, 0) + 1
    produced = _read(out)
    latencies: list[float] = []
    for district, bbox, receipts in probes:
        latencies += position_latencies(due_positions(produced, district, bbox), receipts)
    return {
        "map_clients": clients,
        "probes": len(probes),
        "clients_failed": sum(failures.values()),
        "client_failures": failures,
        "positions_produced": gen["produced"],
        "generator_cpu_s": gen["cpu_s"],
        "generator_behind_s": gen["behind_s"],
        "generator_seconds": gen["seconds"],
        **summary(latencies, args.deadline_ms),
        **_usage(c0, c1, mine0, mine1),
    }


async def alert_phase(args, http, base: str, token: str, clients: int, prefix: str, work) -> dict:
    count = int(args.alert_rate * args.alert_seconds)
    stop = [time.time() + args.alert_seconds + args.warmup + 30]
    received: list[dict] = [{} for _ in range(clients)]
    tasks = [
        asyncio.create_task(alert_client(base, token, prefix, count, stop, received[i]))
        for i in range(clients)
    ]
    await asyncio.sleep(args.warmup)
    c0, mine0 = await _cpu(http), resource.getrusage(resource.RUSAGE_SELF)
    out = work / f"alerts-{prefix}.jsonl"
    gen = await _generate(args, base, "alerts", out, count=count, rate=args.alert_rate,
                          prefix=prefix)  # fmt: skip
    stop[0] = min(stop[0], time.time() + args.deadline_ms / 1000 + 2.0)
    results = await asyncio.gather(*tasks, return_exceptions=True)
    c1, mine1 = await _cpu(http), resource.getrusage(resource.RUSAGE_SELF)
    produced = {a["id"]: a["ts"] for a in _read(out)}
    latencies: list[float] = []
    extra = 0
    for got in received:
        latencies += alert_latencies(produced, got)
        extra += sum(1 for i in got if i not in produced)
    reconnects = sum(r for r in results if isinstance(r, int))
    return {
        "alert_clients": clients,
        "alerts_produced": gen["produced"],
        "alert_reconnects": reconnects,
        **summary(latencies, args.deadline_ms, extra),
        **_usage(c0, c1, mine0, mine1),
    }


async def run_rounds(args, base: str, work: Path) -> list[dict]:
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        tokens = {}
        for name in ["city"] + [f"d{i}" for i in range(len(DISTRICTS))]:
            r = await http.post("/api/auth/login", json={"username": name, "password": PASSWORD})
            tokens[name] = r.json()["access_token"]
        phases = []
        for r in range(args.rounds):
            for name, maps, alerts in (
                ("light", len(DISTRICTS), 1),
                ("full", args.map_clients, args.alert_clients),
            ):
                row = {"round": r, "phase": name}
                row["positions"] = await position_phase(args, http, base, tokens, maps, work)
                row["alerts"] = await alert_phase(
                    args, http, base, tokens["city"], alerts, f"B{r}{name[0]}", work
                )
                phases.append(row)
                print(_row_text(row), file=sys.stderr, flush=True)
        return phases


# --- the command ----------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", nargs="?", default="run", choices=["run", "serve"])
    parser.add_argument("--port", type=int, default=0, help="API port (0: any free one)")
    parser.add_argument("--fd", type=int, help=argparse.SUPPRESS)
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
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds to connect clients")
    parser.add_argument("--deadline-ms", type=float, default=1000.0, help="later is late")
    parser.add_argument("--rounds", type=int, default=1, help="light/full pairs")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--out", type=Path, help="also write the JSON report there")
    args = parser.parse_args(argv)
    if args.mode == "serve":
        serve(args.fd)
        return 0
    stamp = stamping.start(["bench.ws", *(sys.argv[1:] if argv is None else argv)])
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", args.port))
        sock.listen(4096)
        port, fd = sock.getsockname()[1], sock.fileno()
        child = subprocess.Popen(
            [sys.executable, "-m", "bench.ws", "serve", "--fd", str(fd)], cwd=ROOT, pass_fds=[fd]
        )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_live(base, child)
        with tempfile.TemporaryDirectory(prefix="bench-ws-") as tmp:
            phases = asyncio.run(run_rounds(args, base, Path(tmp)))
    finally:
        child.terminate()
        child.wait(timeout=10)
    stamping.end(stamp)
    report = {"stamp": stamp, "vehicles": args.vehicles, "period_s": args.period,
              "phases": phases}  # fmt: skip
    report["complete"] = all(p[k]["complete"] for p in phases for k in ("positions", "alerts"))
    print(json.dumps(report, ensure_ascii=False, indent=1) if args.json else table(report))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, ensure_ascii=False, indent=1))
    return 0 if report["complete"] else 1  # something due was lost: the run says so


def _wait_live(base: str, child: subprocess.Popen) -> None:
    """Until ``/livez`` answers (a readiness probe), or the server died."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise RuntimeError(f"the API exited with {child.returncode}")
        try:
            if httpx.get(base + "/livez", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError("the API did not answer /livez within 60 s")


def _row_text(row: dict) -> str:
    p, a = row["positions"], row["alerts"]
    return (
        f"{row['round']:>5}  {row['phase']:<5}  {p['map_clients']:>5} ({p['probes']} probes)  "
        f"{p['due']:>7} {p['delivered']:>7} {p['late']:>5} {p['missing']:>6}  "
        f"{p['p50_ms']} / {p['p99_ms']} / {p['max_ms']} ms  failed {p['clients_failed']}  "
        f"api {p['api_cores']} "
        f"(intake {p['api_intake_cores']}) gen {p['generator_cpu_s']} s  |  "
        f"{a['alert_clients']:>3} alert clients: {a['due']} due, {a['delivered']} delivered, "
        f"{a['late']} late, {a['missing']} missing, {a['extra']} extra; "
        f"{a['p50_ms']} / {a['p99_ms']} / {a['max_ms']} ms, api {a['api_cores']}"
    )


def table(report: dict) -> str:
    """The report as text, stamp first."""
    lines = [
        stamping.line(report["stamp"]),
        f"{report['vehicles']} vehicles every {report['period_s']} s; latency over everything "
        "due, missing ranked as +inf",
        "round  phase  map clients         due  delivd  late  missing  p50 / p99 / max",
    ]
    lines += [_row_text(row) for row in report["phases"]]
    lines.append(f"complete (nothing missing, nothing extra): {report['complete']}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
