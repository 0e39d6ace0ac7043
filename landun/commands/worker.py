"""`landun worker`: run a stream worker (faust-streaming) over the pings topic.

The worker reads ``{ns}.pings`` (its share of the partitions: start several workers to scale
out), runs the detection engine, and writes alerts to ``{ns}.alerts``, trips/stops/fence events
to ``{ns}.events``, rejected pings to ``{ns}.pings.rejected`` and, with ``--redis``, the live
view to Redis. Reference data (fences, registry) comes from the compacted topics ``{ns}.fences``
and ``{ns}.registry`` (publish them with ``landun ingest --fences F --registry R``).

Settings default from the environment: LANDUN_KAFKA_BOOTSTRAP (else 127.0.0.1:LANDUN_KAFKA_PORT),
LANDUN_NAMESPACE, LANDUN_REDIS_URL, LANDUN_REDIS_PREFIX.
HTTP on --port: /livez, /readyz, /metrics (Prometheus).
"""

from __future__ import annotations

import argparse
import os

from stream.kafka.datadir import default_datadir
from stream.kafka.topics import DEFAULT_NAMESPACE, DEFAULT_PARTITIONS


def default_bootstrap() -> str:
    """LANDUN_KAFKA_BOOTSTRAP, else loopback on LANDUN_KAFKA_PORT (9092)."""
    port = os.environ.get("LANDUN_KAFKA_PORT", "9092")
    return os.environ.get("LANDUN_KAFKA_BOOTSTRAP", f"127.0.0.1:{port}")


def add_kafka_arguments(parser: argparse.ArgumentParser) -> None:
    """--bootstrap, --namespace and --partitions, shared by the Kafka commands."""
    parser.add_argument("--bootstrap", default=default_bootstrap(), help="Kafka bootstrap servers")
    parser.add_argument(
        "--namespace",
        default=os.environ.get("LANDUN_NAMESPACE", DEFAULT_NAMESPACE),
        help="topic prefix (LANDUN_NAMESPACE, default landun)",
    )
    parser.add_argument(
        "--partitions",
        type=int,
        default=DEFAULT_PARTITIONS,
        help=f"partitions of the pings topic when it is created (default {DEFAULT_PARTITIONS})",
    )


_LEVELS = ("crit", "error", "warn", "info", "debug")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `worker` sub-command."""
    p = subparsers.add_parser(
        "worker",
        help="run a stream worker (Kafka pings -> engine -> alerts, events, live view)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_kafka_arguments(p)
    p.add_argument("--store", default="rocksdb://", help="table store: rocksdb:// or memory://")
    env = os.environ.get
    p.add_argument(
        "--datadir",
        default=default_datadir(),
        help="local table data, rocksdb (LANDUN_WORKER_DATA_DIR, else "
        "$XDG_STATE_HOME/landun/worker, i.e. ~/.local/state/landun/worker)",
    )
    p.add_argument(
        "--host",
        default=env("LANDUN_WORKER_HOST", "127.0.0.1"),
        help="HTTP bind address (LANDUN_WORKER_HOST, default 127.0.0.1)",
    )
    p.add_argument(
        "--port",
        type=int,
        default=int(env("LANDUN_WORKER_PORT", "6066")),
        help="HTTP port: /livez /readyz /metrics (LANDUN_WORKER_PORT, default 6066)",
    )
    p.add_argument("--redis", default=os.environ.get("LANDUN_REDIS_URL"), help="Redis URL")
    p.add_argument(
        "--redis-prefix",
        default=os.environ.get("LANDUN_REDIS_PREFIX", "landun"),
        help="prefix of the live view's keys (LANDUN_REDIS_PREFIX, default landun)",
    )
    p.add_argument("--batch", type=int, default=5000, help="most records per micro-batch")
    p.add_argument(
        "--within", type=float, default=0.02, help="longest wait for a micro-batch, seconds"
    )
    p.add_argument(
        "--checkpoint-every",
        type=float,
        default=1.0,
        help="seconds between checkpoints of a partition's state (default 1; after a crash "
        "at most this much input is read again)",
    )
    p.add_argument("--standby", type=int, default=1, help="standby table replicas (default 1)")
    level = env("LANDUN_LOG_LEVEL", "warn").lower().replace("warning", "warn")
    p.add_argument(
        "--loglevel",
        default=level if level in _LEVELS else "warn",
        choices=_LEVELS,
        help="log level (LANDUN_LOG_LEVEL, default warn)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from stream.kafka.worker import WorkerSettings, run_worker

    settings = WorkerSettings(
        bootstrap=args.bootstrap,
        namespace=args.namespace,
        partitions=args.partitions,
        store=args.store,
        datadir=args.datadir,
        web_host=args.host,
        web_port=args.port,
        batch_max=args.batch,
        batch_within_s=args.within,
        standby_replicas=args.standby,
        checkpoint_interval_s=args.checkpoint_every,
        redis_url=args.redis,
        redis_prefix=args.redis_prefix,
    )
    return run_worker(settings, args.loglevel)
