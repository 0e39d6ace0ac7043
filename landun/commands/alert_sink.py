"""`landun alert-sink`: the workers' alerts and trips from Kafka into PostgreSQL.

One or more sink processes (consumer group ``{ns}-alert-sink``) read ``{ns}.alerts`` and
``{ns}.events``, write every alert version and trip into the system of record, and announce each
change on the Redis bus, from which every API process feeds ``/ws/alerts``. Offsets are committed
only after the rows are committed; records it can never store go to ``{ns}.alerts.rejected``.
A group without committed offsets (the first start of a deployment) begins at the start of the
topics, so no alert produced before the sink ran is lost; writes are idempotent by (alert id,
version), so re-reading is harmless. A new ``--group`` re-reads the topics into an empty
database (a restore).

Settings: LANDUN_DATABASE_URL, LANDUN_REDIS_URL, LANDUN_REDIS_PREFIX, LANDUN_KAFKA_BOOTSTRAP,
LANDUN_NAMESPACE. HTTP on --port (default 6067): /livez, /readyz, /metrics.
Exit codes: 0 stopped by a signal; 1 a backing service unreachable at start-up; 2 bad settings.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `alert-sink` sub-command."""
    p = subparsers.add_parser(
        "alert-sink",
        help="write the workers' alerts and trips from Kafka into PostgreSQL",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--group", help="consumer group (default {namespace}-alert-sink)")
    p.add_argument("--host", default="127.0.0.1", help="HTTP bind address for the probes")
    p.add_argument("--port", type=int, default=6067, help="HTTP port: /livez /readyz /metrics")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from alembic.util.exc import CommandError
    from kafka.errors import KafkaError
    from pydantic import ValidationError

    from api.settings import Connections
    from landun.production import ConfigurationError, sink_from_settings
    from stream.live.errors import ServiceUnavailable

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        sink, probes, close = sink_from_settings(Connections(), group=args.group)
    except (ValidationError, ConfigurationError) as exc:
        print(f"landun alert-sink: {exc}", file=sys.stderr)
        return 2
    except (ServiceUnavailable, KafkaError, CommandError) as exc:  # at start-up; later
        print(f"landun alert-sink: {exc!r}", file=sys.stderr)  # outages are waited out
        return 1
    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())
    server = _serve_probes(args.host, args.port, sink.metrics.registry, probes)
    try:
        sink.run(stopping.is_set)
    finally:
        server.shutdown()
        close()
    return 0


def _serve_probes(host: str, port: int, registry, probes):
    """/livez, /readyz (each backing service) and /metrics on a small thread server."""
    from prometheus_client import generate_latest

    from landun.probes import serve_probes

    return serve_probes(host, port, probes, lambda: generate_latest(registry), "sink-probes")
