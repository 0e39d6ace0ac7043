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
Kafka unreachable at start-up does not stop the gateway: it listens at once, answers /readyz with
503 and acknowledges no position until Kafka answers (it keeps trying every few seconds).
Exit codes: 0 stopped by a signal; 1 a pings topic of another shape; 2 bad arguments or files.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys

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
    from stream.kafka.topics import TopicError

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        directory, secret, limits = _configure(args)
    except (OSError, ValueError) as exc:
        print(f"landun gateway: {exc}", file=sys.stderr)
        return 2
    try:
        return asyncio.run(_serve(args, directory, secret, limits))
    except TopicError as exc:
        print(f"landun gateway: Kafka: {exc}", file=sys.stderr)
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
    from gateway.sink import PendingSink
    from stream.kafka.probe import probe_kafka
    from stream.kafka.topics import Topics

    topics = Topics(args.namespace)
    # Issue 14: Kafka down at start-up → listen anyway, acknowledge nothing, /readyz says so.
    sink = PendingSink()
    stop = asyncio.Event()
    failed: list[BaseException] = []
    connector = asyncio.create_task(_connect_kafka(args, topics, sink))
    connector.add_done_callback(lambda t: t.cancelled() or _stop_on_error(t, failed, stop))
    registry_ready = asyncio.Event()
    follower = None
    if args.registry:
        registry_ready.set()
    else:
        follower = asyncio.create_task(
            _retrying(follow_registry, args.bootstrap, topics.registry, directory, registry_ready)
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
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        connector.cancel()
        if follower is not None:
            follower.cancel()
        await server.close()
        if sink.inner is not None:
            sink.inner.producer.close(10)
        probes.shutdown()
    if failed:
        raise failed[0]
    return 0


async def _connect_kafka(args, topics, sink, retry_s: float = 3.0) -> None:
    """Create the topics and the producer, trying again every ``retry_s`` while Kafka is
    unreachable, then attach the Kafka sink to ``sink``. A topic of another shape is not retried
    (:class:`~stream.kafka.topics.TopicError`: the gateway stops)."""
    from kafka.errors import KafkaError

    from gateway.sink import KafkaSink, make_gateway_producer
    from stream.kafka.probe import probe_kafka
    from stream.kafka.topics import ensure_topics

    while True:
        # A broker that takes no TCP connection is waited for here, not in the Kafka clients:
        # their bootstrap backs off up to ~35 s in a thread a stop would have to wait for.
        reach = await asyncio.to_thread(probe_kafka, args.bootstrap)
        if reach != "ok":
            sink.why = f"kafka: {reach}"
            await asyncio.sleep(retry_s)
            continue
        try:
            await asyncio.to_thread(ensure_topics, args.bootstrap, topics, args.partitions)
            producer = await asyncio.to_thread(make_gateway_producer, args.bootstrap)
        except (KafkaError, OSError) as exc:
            sink.why = f"kafka: {exc!r}"
            logging.getLogger(__name__).warning("Kafka unreachable, trying again: %r", exc)
            await asyncio.sleep(retry_s)
            continue
        sink.attach(KafkaSink(producer, topics, args.partitions, linger_s=args.linger))
        logging.getLogger(__name__).info("Kafka connected: positions are acknowledged")
        return


async def _retrying(follow, *args, retry_s: float = 3.0) -> None:
    """``follow(*args)`` again from the start whenever it fails (Kafka down at start-up or later),
    until cancelled; the registry check stays unready until a read has caught up."""
    while True:
        try:
            await follow(*args)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - any Kafka client failure: read again later
            logging.getLogger(__name__).warning("registry topic unreadable, trying again: %r", exc)
            await asyncio.sleep(retry_s)


def _stop_on_error(task: asyncio.Task, failed: list, stop: asyncio.Event) -> None:
    if task.exception() is not None:
        failed.append(task.exception())
        stop.set()


def serve_probes(host: str, port: int, server):
    """/livez, /readyz (the server's checks) and /metrics (its counters) on a thread server."""
    from landun.probes import serve_probes as serve

    def metrics() -> bytes:
        return server.stats.render(server.checks()).encode()

    return serve(host, port, server.checks, metrics, "gateway-probes")


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
