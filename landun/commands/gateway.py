"""`landun gateway`: the JT/T 808 gateway, vehicle terminals straight into the pings topic.

Listens on --port (default 6808) for terminals speaking JT/T 808 (2011/2013/2019) over TCP:
registration (0x0100; terminals known to the registry by terminal_phone, others refused),
authentication, heartbeats, positions (0x0200) and batches (0x0704; type 1 blind-area re-sends
become pings flagged backfill). Pings go to {ns}.pings through the batched producer, with
source "jt808", the frame's seq and received; a terminal is acknowledged only once Kafka has
acknowledged its positions (Kafka down: no acknowledgement, the terminal retransmits).

The registry is followed on {ns}.registry (the workers' own, so the gateway knows the same
vehicles as they do, and a truck published with `landun ingest --registry` can connect within a
second); --registry FILE reads a file instead (no Kafka needed for the registry, e.g. a test
bench). Vehicle entries may carry terminal_datum ("gcj02"), load_sensor (false) and
terminal_lenient (true): docs/jt808.md. --vendors FILE names vendor/city items (lift, cover).
Auth codes are an HMAC under LANDUN_JT808_SECRET (or --secret-file): gateways sharing it accept
each other's registrations; without one each process draws its own and terminals register again
after a restart.

HTTP on --http-port (default 6069): /livez, /readyz (503 while Kafka is unreachable or not
acknowledging, or the registry is not read yet), /metrics (Prometheus).
Exit codes: 0 stopped by a signal; 1 Kafka unreachable at start-up; 2 bad arguments or files.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import threading

from landun.commands.worker import add_kafka_arguments


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `gateway` sub-command."""
    p = subparsers.add_parser(
        "gateway",
        help="JT/T 808 gateway: vehicle terminals over TCP into the pings topic",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--host", default="0.0.0.0", help="terminal bind address (default 0.0.0.0)")
    p.add_argument("--port", type=int, default=6808, help="terminal TCP port (default 6808)")
    add_kafka_arguments(p)
    p.add_argument("--registry", help="registry.json to read instead of the registry topic")
    p.add_argument("--vendors", help="vendor item table (JSON, docs/jt808.md)")
    p.add_argument("--secret-file", help="auth-code key file (default LANDUN_JT808_SECRET)")
    p.add_argument("--http-host", default="127.0.0.1", help="probe bind address")
    p.add_argument("--http-port", type=int, default=6069, help="/livez /readyz /metrics port")
    p.add_argument("--max-connections", type=int, default=20_000, help="all addresses together")
    p.add_argument("--max-per-address", type=int, default=1_000, help="from one IP address")
    p.add_argument("--idle-timeout", type=float, default=300.0, help="seconds without a frame")
    p.add_argument("--frame-timeout", type=float, default=30.0, help="seconds to finish a frame")
    p.add_argument(
        "--linger", type=float, default=0.005, help="seconds pings wait to share a record"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from kafka.errors import KafkaError

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        directory, secret, limits = _configure(args)
    except (OSError, ValueError) as exc:
        print(f"landun gateway: {exc}", file=sys.stderr)
        return 2
    try:
        return asyncio.run(_serve(args, directory, secret, limits))
    except KafkaError as exc:
        print(f"landun gateway: Kafka: {exc!r}", file=sys.stderr)
        return 1


def _configure(args):
    """The directory (empty when following the topic), the auth-code key and the limits.

    Raises
    ------
    OSError, ValueError
        An unreadable or invalid file.
    """
    import orjson

    from gateway.directory import Directory
    from gateway.items import VendorTable
    from gateway.limits import Limits
    from gateway.vendors import table_from_dict
    from stream.registry import Registry

    vendors = VendorTable()
    if args.vendors:
        with open(args.vendors, "rb") as fh:
            vendors = table_from_dict(orjson.loads(fh.read()))
    directory = Directory(vendors)
    if args.registry:
        Registry.load(args.registry)  # the engine's validation: a bad file is refused here too
        with open(args.registry, "rb") as fh:
            directory.load(orjson.loads(fh.read()))
    secret = os.environ.get("LANDUN_JT808_SECRET", "").encode() or None
    if args.secret_file:
        with open(args.secret_file, "rb") as fh:
            secret = fh.read().strip() or None
    limits = Limits(
        max_connections=args.max_connections,
        max_per_address=args.max_per_address,
        idle_timeout_s=args.idle_timeout,
        frame_timeout_s=args.frame_timeout,
    )
    return directory, secret, limits


async def _serve(args, directory, secret, limits) -> int:
    from gateway.follow import follow_registry
    from gateway.server import GatewayServer
    from gateway.sink import KafkaSink, make_gateway_producer
    from stream.kafka.probe import probe_kafka
    from stream.kafka.topics import Topics, ensure_topics

    topics = Topics(args.namespace)
    await asyncio.to_thread(ensure_topics, args.bootstrap, topics, args.partitions)
    producer = await asyncio.to_thread(make_gateway_producer, args.bootstrap)
    sink = KafkaSink(producer, topics, args.partitions, linger_s=args.linger)
    registry_ready = asyncio.Event()
    follower = None
    if args.registry:
        registry_ready.set()
    else:
        follower = asyncio.create_task(
            follow_registry(args.bootstrap, topics.registry, directory, registry_ready)
        )
    checks = {
        "kafka": lambda: probe_kafka(args.bootstrap),
        "registry": lambda: "ok" if registry_ready.is_set() else "reading the registry topic",
    }
    server = GatewayServer(directory, sink, limits, secret, checks=checks)
    port = await server.start(args.host, args.port)
    probes = serve_probes(args.http_host, args.http_port, server)
    source = args.registry or topics.registry
    print(f"landun gateway: terminals on {args.host}:{port}, registry {source}, "
          f"pings to {topics.pings}; probes on http://{args.http_host}:{args.http_port}/readyz",
          flush=True)  # fmt: skip
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        if follower is not None:
            follower.cancel()
        await server.close()
        producer.close(10)
        probes.shutdown()
    return 0


def serve_probes(host: str, port: int, server):
    """/livez, /readyz (the server's checks) and /metrics (its counters) on a thread server."""
    import json
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Probes(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the http.server API
            if self.path == "/livez":
                self._reply(200, b'{"status":"ok"}')
                return
            checks = server.checks()
            if self.path == "/metrics":
                text = server.stats.render(checks).encode()
                self._reply(200, text, "text/plain; version=0.0.4")
            elif self.path == "/readyz":
                ok = all(v == "ok" for v in checks.values())
                body = {"status": "ok" if ok else "unavailable", "checks": checks}
                self._reply(200 if ok else 503, json.dumps(body).encode())
            else:
                self._reply(404, b'{"detail":"not found"}')

        def _reply(self, status: int, body: bytes, kind: str = "application/json"):
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):  # probes every few seconds would flood the log
            pass

    httpd = ThreadingHTTPServer((host, port), Probes)
    threading.Thread(target=httpd.serve_forever, name="gateway-probes", daemon=True).start()
    return httpd


class EmbeddedGateway:
    """`landun demo --jt808-port PORT`: a gateway whose pings drive the demo's in-process engine.

    Its sink is a callback (:class:`gateway.sink.CallbackSink`) into an inbox the demo drains at
    each engine step (``landun.embedded``); its registry is the night's, loaded when the night
    starts. The demo's engine runs on the simulated night's clock, so the pings carry no
    wall-clock ``received``, and a terminal's positions are placed by their own times: drive the
    demo with ``landun sim-terminals --start`` and ``--rate`` equal to the demo's.
    """

    def __init__(self, secret: bytes | None = None):
        from gateway.directory import Directory
        from gateway.server import GatewayServer
        from gateway.sink import CallbackSink
        from gateway.terminals import SIM_VENDOR
        from gateway.vendors import table_from_dict

        self.directory = Directory(table_from_dict(SIM_VENDOR))
        self.server = GatewayServer(self.directory, CallbackSink(self._take), secret=secret)
        self._inbox: list[dict] = []

    async def start(self, host: str, port: int) -> int:
        """Listen for terminals; returns the port."""
        return await self.server.start(host, port)

    def registry(self, registry: dict) -> None:
        """The night's registry (its vehicles' ``terminal_phone``) decides who may connect."""
        self.directory.load(registry)

    def drain(self) -> list[dict]:
        """The terminals' pings since the last call, for the next engine step."""
        out, self._inbox = self._inbox, []
        return out

    def _take(self, pings: list[dict]) -> None:
        for p in pings:
            p.pop("received", None)
        self._inbox.extend(pings)
