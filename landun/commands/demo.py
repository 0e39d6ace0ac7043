"""`landun demo`: the whole system in one process, on the embedded default (no Kafka, no Redis).

First it checks the bundled Wuxi demo fences and prints a short geofence benchmark; then it
simulates a Wuxi fleet, runs the engine on it in accelerated time, and serves the API and the live
map. It prints the URL and the demo logins, and runs until interrupted.

The first simulated night is archived to ``--archive`` (default ``LANDUN_ARCHIVE_DIR``,
var/archive; issue 12): replay it with ``landun replay --archive DIR --from T0 --to T1``, or in
the map's replay mode (the demo's API reads the same directory). A demo writes its batches
under the same names every run (``s{first}-{last}``): an earlier demo's files in that
directory are replaced, or mixed in when the fleet differs; use a fresh directory for that.

The demo binds ``--host``/``--port`` before anything else (issue 13): when the port is taken it
says so, naming the port (``make demo PORT=8080`` or ``--port 8080`` picks another), and exits 2
without printing a URL or opening a browser. ``--port 0`` lets the system choose; the URL printed
is the port chosen. Exit code 2 also for a bad ``LANDUN_ARCHIVE_DIR``.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import logging
import os
import socket
import sys
import tempfile
import webbrowser
from importlib import resources
from pathlib import Path

from sim import DEFAULT_START


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "demo", help="run everything in one process (simulated Wuxi fleet)", description=__doc__
    )
    p.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000; 0: any free one)")
    p.add_argument("--no-browser", action="store_true", help="do not open a browser")
    p.add_argument("--vehicles", type=int, default=300, help="simulated vehicles (default 300)")
    p.add_argument("--hours", type=float, default=12.0, help="length of a simulated night")
    p.add_argument("--rate", type=float, default=30.0, help="times faster than real time")
    p.add_argument("--seed", type=int, default=1, help="first simulated night's seed")
    p.add_argument("--start", default=DEFAULT_START, help="simulated start time (ISO 8601)")
    p.add_argument("--no-bench", action="store_true", help="skip the geofence benchmark")
    p.add_argument(
        "--archive",
        help="archive the first night here (default LANDUN_ARCHIVE_DIR, var/archive)",
    )
    p.add_argument(  # issue 14 hook: JT/T 808 terminals drive the map (landun sim-terminals)
        "--jt808-port", type=int, help="also accept JT/T 808 terminals on this TCP port"
    )
    p.set_defaults(func=run)


def _check_fences() -> None:
    from landun.commands.fences import run_check

    path = resources.files("geofence") / "data" / "wuxi_demo.geojson"
    print(f"== landun fences check {path}")
    run_check(argparse.Namespace(file=str(path)))


def _bench() -> None:
    from bench.geofence import run as bench

    print(
        "== geofence benchmark: 10,000 fences, 200,000 pings (bench/geofence.py for the full one)"
    )
    r = bench(10_000, 200_000, repeat=1, scalar_points=20_000, resolution=12)
    print(
        f"   batch {r['ours_batch_pps']:,} pings/s, {r['ratio_batch_vs_strtree']}x shapely "
        f"STRtree ({r['strtree_pps']:,}/s); scalar {r['scalar_us']} µs/ping; build "
        f"{r['build_s']} s; index {r['index_mb']} MB; identical answers: {r['identical']}"
    )


def run(args: argparse.Namespace) -> int:
    from landun.archive_setting import ArchiveSettingError, archive_dir

    try:  # read when the demo runs, not when the CLI is built (issue 12)
        args.archive = archive_dir(args.archive)
    except ArchiveSettingError as exc:
        print(f"landun demo: {exc}", file=sys.stderr)
        return 2
    if not _bind_port(args):  # before any URL is printed or a browser opened (issue 13)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    _check_fences()
    if not args.no_bench:
        _bench()
    # The API in this process reads the archive from the setting: the same directory (issue 12).
    os.environ["LANDUN_ARCHIVE_DIR"] = args.archive
    args.archiving = _claim_archive(args)
    # The map's roads: never in the checkout, one file per port, rewritten by the next demo on
    # it (uvicorn ends the process by its signal on SIGTERM: nothing would remove a directory).
    _basemap(args, Path(tempfile.gettempdir()) / "landun-demo" / f"basemap-{args.port}.geojson")
    return asyncio.run(_serve(args))


def _basemap(args: argparse.Namespace, path: Path) -> None:
    """Write the first night's roads to ``path`` as the map's vector basemap and point the API
    at it (``LANDUN_BASEMAP_FILE``), unless the operator has set that file already (issue 13)."""
    from sim.basemap import write_basemap
    from sim.scenario import build_world
    from stream.eventtime import parse_ts

    if os.environ.get("LANDUN_BASEMAP_FILE"):
        return
    start = parse_ts(args.start)
    world = build_world(args.vehicles, args.seed, start, start + int(args.hours * 3_600_000))
    count = write_basemap(world, path)
    os.environ["LANDUN_BASEMAP_FILE"] = str(path)
    print(f"== basemap: {count} roads of the simulated scenario in {path}")


def _bind_port(args: argparse.Namespace) -> bool:
    """Bind the demo's address first (issue 13: a taken port printed the URL and opened a
    browser on whatever held it, then failed). The bound socket (``args.socket``) is what uvicorn
    serves on, so nothing can take the port in between; ``--port 0`` becomes the port chosen."""
    try:
        family, kind, proto, _, addr = socket.getaddrinfo(
            args.host, args.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            sock.bind(addr)
        except OSError:
            sock.close()
            raise
    except OSError as exc:
        where, why = f"{args.host} port {args.port}", exc.strerror or str(exc)
        if exc.errno == errno.EADDRINUSE:
            print(f"landun demo: port {args.port} is taken ({why}: another program, or another "
                  f"demo, serves on {where}). Pick another port: make demo PORT=8080, or "
                  "landun demo --port 8080", file=sys.stderr)  # fmt: skip
        else:
            print(f"landun demo: cannot serve on {where}: {why} (check --host, and --port or "
                  "make demo PORT=...)", file=sys.stderr)  # fmt: skip
        return False
    args.socket, args.port = sock, sock.getsockname()[1]
    return True


def _claim_archive(args: argparse.Namespace) -> bool:
    """Take the archive directory for this demo: a previous demo's archive there is replaced
    (``make demo`` archives into the same directory each time); one holding anything else is
    left alone and the demo runs on without archiving, saying so (issue 12)."""
    from replay.stamp import DEMO, ArchiveTaken, claim

    night = {"vehicles": args.vehicles, "hours": args.hours, "seed": args.seed,
             "start": args.start}  # fmt: skip
    try:
        claim(args.archive, DEMO, night)
    except (ArchiveTaken, OSError) as exc:
        print(f"landun demo: not archiving: {exc}", file=sys.stderr)
        return False
    return True


def _report_failure(server):
    """Stop the server, with the reason, if the simulation driver dies."""

    def done(task: asyncio.Task) -> None:
        if not task.cancelled() and task.exception() is not None:
            logging.getLogger("landun.demo").error("driver failed", exc_info=task.exception())
            server.should_exit = True

    return done


async def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from api.app import create_app
    from api.security import DEMO_USERS
    from api.settings import Settings
    from landun import embedded

    url = f"http://{args.host}:{args.port}/"
    settings = Settings(demo=True, allowed_origins=[url.rstrip("/")])
    app = create_app(settings)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=args.host,
            port=args.port,
            log_level="warning",
            ws_per_message_deflate=False,
            ws_max_size=settings.ws_max_frame_bytes,
        )
    )
    jt808 = None
    if args.jt808_port is not None:  # issue 14 hook (landun.commands.gateway.EmbeddedGateway)
        from landun.commands.gateway import EmbeddedGateway

        jt808 = EmbeddedGateway()
        try:
            port = await jt808.start(args.host, args.jt808_port)
        except OSError as exc:  # as for the web port: one line, not a traceback (issue 13)
            print(f"landun demo: cannot take JT/T 808 port {args.jt808_port} on {args.host}: "
                  f"{exc.strerror or exc}. Pick another with --jt808-port",
                  file=sys.stderr)  # fmt: skip
            return 2
        print(f"   JT/T 808 terminals: {args.host}:{port} (landun sim-terminals --gateway "
              f"{args.host}:{port} --start {args.start} --rate {args.rate:g})")  # fmt: skip
    driver = asyncio.create_task(
        embedded.run(
            app.state.feed,
            args.vehicles,
            args.hours,
            args.seed,
            args.start,
            args.rate,
            archive=args.archive if args.archiving else None,
            jt808=jt808,
        )
    )
    driver.add_done_callback(_report_failure(server))
    print(f"\n== landun demo: {args.vehicles} vehicles, {args.rate:g}x real time")
    print(f"   open {url}")
    if args.archiving:
        where = args.archive
        print(f"   archive: {where} (the first night; landun replay --archive {where})")
    else:
        print(f"   archive: none ({args.archive} holds another archive; see above)")
    for name, role, district, password, _ in DEMO_USERS:
        print(f"   login {name} / {password}  ({role.value}{', ' + district if district else ''})")
    if not args.no_browser:
        webbrowser.open(url)
    try:
        await server.serve(sockets=[args.socket])
    finally:
        driver.cancel()
    if driver.done() and not driver.cancelled() and driver.exception():
        raise driver.exception()
    return 0
