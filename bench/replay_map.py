"""Replay of a district-night on the map at 1000x, in headless Chromium (issue 12 target: "replay
of one district-night to the map at 1000x keeps up (no growing backlog)").

Builds an archive with ``replay.writer`` (``--vehicles`` trucks x ``--hours`` from 20:00 Beijing
time, a fix every ``--every-s`` seconds, loaded/empty legs, stops, one alert each), serves it with
the real API (uvicorn in a child process, in-memory ports, ``LANDUN_ARCHIVE_DIR``), logs in to the
page in Debian's Chromium (Playwright) and replays every vehicle at ``--speed``, once per chunk
size in ``--chunks`` (minutes of data time per fetch; ``all`` = the whole range in one fetch per
vehicle). A run presses play once the first chunk is in (for ``all``: once everything is).

Reports per run, from the page's own counters (``window.landun.replay.session.stats``): frame
interval and frame cost (controls + redraw) p50/p95 ms; stalls (the playhead caught up with the
data and waited) and the time stalled; how far the fetched data ran ahead of the playhead, in
seconds of playback, over each third of the run (a growing backlog shows as a shrinking lead);
time to the first chunk; requests; wall time of the playback vs the ideal (range / speed).

    .venv/bin/python -m bench.replay_map
    .venv/bin/python -m bench.replay_map --vehicles 100 --hours 10 --chunks 30,60,all

A benchmark, not a test: it asserts nothing about timings.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import random
import socket
import sys
import tempfile
import time
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
PASSWORD = "bench-password"
SECRET = "bench-secret-not-for-production-0123456789"
START_MS = 1748865600000  # 2025-06-02T20:00:00+08:00
WUXI = (31.49, 120.31)
M_PER_DEG = 110_900.0
DISTRICT = "梁溪"


def vehicle_id(v: int) -> str:
    return f"WX{v:05d}"  # ids are ASCII (api/ids.py)


def build_archive(folder: Path, vehicles: int, hours: float, every_s: int, seed: int) -> int:
    """Write the night with ``replay.writer``; returns the number of pings."""
    from replay.layout import SourceRange
    from replay.rows import ping_row
    from replay.writer import write_batch
    from stream.ping import Ping

    rng = random.Random(seed)
    rows, events = [], []
    fixes = int(hours * 3600 / every_s) + 1
    for v in range(vehicles):
        vid = vehicle_id(v)
        lat = WUXI[0] + rng.uniform(-0.1, 0.1)
        lng = WUXI[1] + rng.uniform(-0.12, 0.12)
        heading = rng.uniform(0, 2 * math.pi)
        stop_at = {int(rng.uniform(0.1, 0.9) * fixes) for _ in range(int(hours // 2))}
        standing = 0
        for k in range(fixes):
            ts = START_MS + k * every_s * 1000
            if k in stop_at:  # a 10-minute stop, reported as the engine does
                standing = 600 // every_s
                events.append(("stop", _stop(vid, ts, lat, lng)))
            if standing:
                standing -= 1
            else:
                heading += rng.uniform(-0.3, 0.3)
                step = rng.uniform(5, 15) * every_s  # 18-54 km/h
                lat += step * math.sin(heading) / M_PER_DEG
                lng += step * math.cos(heading) / (M_PER_DEG * math.cos(math.radians(lat)))
            loaded = "full" if (k * every_s // 3600) % 2 else "empty"  # hour by hour
            ping = Ping(vid, ts, lat, lng, loaded=loaded)
            rows.append(ping_row(ping, "accepted", raw="{}", ingest=len(rows)))
            if k == fixes // 2:
                events.append(("alert", _alert(f"BA{v:05d}", vid, ts, lat, lng)))
    write_batch(folder, SourceRange(0, len(rows) - 1), rows, events)
    return len(rows)


def _stop(vehicle: str, ts: int, lat: float, lng: float) -> dict:
    return {"vehicle": vehicle, "ts": ts, "ended_ts": ts + 600_000, "lat": lat, "lng": lng,
            "duration_s": 600.0, "loaded": True, "at_known_place": False}  # fmt: skip


def _alert(aid: str, vehicle: str, ts: int, lat: float, lng: float) -> dict:
    from stream.eventtime import iso_ts

    return {"id": aid, "type": "route_deviation", "vehicle": vehicle, "district": DISTRICT,
            "severity": "high", "ts": iso_ts(ts), "ended_ts": iso_ts(ts + 300_000),
            "lat": lat, "lng": lng}  # fmt: skip


def serve(archive: str, port: int, vehicles: int) -> None:
    """The API over the archive (child process)."""
    import os

    os.environ["LANDUN_ARCHIVE_DIR"] = archive
    import uvicorn

    from api.app import create_app
    from api.memory import memory_ports
    from api.security import Role, hash_password, make_user
    from api.settings import Settings

    users = [make_user("city", Role.CITY, None, hash_password(PASSWORD))]
    app = create_app(Settings(secret_key=SECRET), memory_ports(users))
    for v in range(vehicles):
        app.state.ports.vehicles.put(
            {
                "id": vehicle_id(v),
                "kind": "muck",
                "company": "bench",
                "district": DISTRICT,
                "terminal_phone": "",
                "plate": "",
            }
        )
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)


def thirds(values: list[float]) -> list[float | None]:
    """The smallest value in each third of the samples (seconds of playback ahead)."""
    n = len(values)
    parts = [values[i * n // 3 : (i + 1) * n // 3] for i in range(3)]
    return [round(min(p) / 1000, 1) if p else None for p in parts]


OPEN = """([vehicles, from, to, chunkMs, speed]) => {
  const r = window.landun.replay;
  r.chunkMs = chunkMs;
  r.open({ vehicles, from, to });
  r.setSpeed(speed);
}"""


def run(page, vehicles: list[str], end_ms: int, chunk_ms: int, speed: int) -> dict:
    """One replay of the whole range; the page's counters."""
    page.evaluate(OPEN, [vehicles, START_MS, end_ms, chunk_ms, speed])
    ready = "(() => { const s = window.landun.replay.session; return s.loaded.size >= %s; })()"
    need = "s.plan.count" if chunk_ms >= end_ms - START_MS else "1"
    _wait(page, ready.replace("%s", need), 600)
    page.evaluate("window.landun.replay.play()")
    started = time.monotonic()
    ideal = (end_ms - START_MS) / speed / 1000
    _wait(
        page,
        "(() => { const s = window.landun.replay.session; return !s.clock.playing; })()",
        max(60.0, ideal * 20),
    )
    wall = time.monotonic() - started
    stats = page.evaluate("window.landun.replay.session.stats")
    failed = page.evaluate("[...window.landun.replay.session.failed]")
    if failed:  # a run with missing vehicles measures nothing
        raise RuntimeError(f"{len(failed)} vehicles failed to load, e.g. {failed[0]}")
    count = page.evaluate("window.landun.replay.session.plan.count")
    return {
        "chunk_min": round(chunk_ms / 60_000, 1) if count > 1 else "all",
        "chunks": count,
        "requests": stats["requests"],
        "points": stats["points"],
        "first_data_ms": round(stats["firstData"]),
        "frame_interval_ms_p50": pct(stats["frames"], 0.5),
        "frame_interval_ms_p95": pct(stats["frames"], 0.95),
        "frame_cost_ms_p50": pct(stats["draws"], 0.5),
        "frame_cost_ms_p95": pct(stats["draws"], 0.95),
        "stalls": stats["stalls"],
        "stalled_ms": round(stats["stallMs"]),
        "lead_s_min_by_third": thirds(stats["ahead"]),
        "play_wall_s": round(wall, 1),
        "ideal_s": round(ideal, 1),
    }


def _wait(page, expression: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise TimeoutError(f"never true in the page: {expression}")
        page.wait_for_timeout(200)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--vehicles", type=int, default=100)
    ap.add_argument("--hours", type=float, default=10.0)
    ap.add_argument("--every-s", type=int, default=15)
    ap.add_argument("--speed", type=int, default=1000)
    ap.add_argument(
        "--chunks", default="30,60,120,240,all", help="minutes per fetch, comma-separated"
    )
    ap.add_argument("--seed", type=int, default=12)
    args = ap.parse_args(argv)
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.monotonic()
        pings = build_archive(Path(tmp), args.vehicles, args.hours, args.every_s, args.seed)
        built = time.monotonic() - t0
        port = free_port()
        server = multiprocessing.get_context("spawn").Process(
            target=serve, args=(tmp, port, args.vehicles), daemon=True
        )
        server.start()
        try:
            results = _browse(sync_playwright, port, args)
        finally:
            server.terminate()
            server.join(10)
    print(
        json.dumps(
            {
                "vehicles": args.vehicles,
                "hours": args.hours,
                "every_s": args.every_s,
                "pings": pings,
                "archive_build_s": round(built, 1),
                "speed": args.speed,
                "runs": results,
            },
            indent=2,
        )
    )
    return 0


def _browse(sync_playwright, port: int, args) -> list[dict]:
    base = f"http://127.0.0.1:{port}"
    vehicles = [vehicle_id(v) for v in range(args.vehicles)]
    end_ms = START_MS + int(args.hours * 3_600_000)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1600, "height": 900})
        for _ in range(100):
            try:
                page.goto(base + "/")
                break
            except Exception:  # the server is still starting
                time.sleep(0.2)
        page.fill("#username", "city")
        page.fill("#password", PASSWORD)
        page.click("#login-button")
        _wait(page, "window.landun && window.landun.replay !== undefined", 30)
        results = []
        for chunk in args.chunks.split(","):
            chunk_ms = end_ms - START_MS + 1 if chunk == "all" else int(float(chunk) * 60_000)
            results.append(run(page, vehicles, end_ms, chunk_ms, args.speed))
            print(json.dumps(results[-1]), file=sys.stderr)
        browser.close()
    return results


if __name__ == "__main__":
    sys.exit(main())
