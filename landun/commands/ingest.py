"""`landun ingest FILE.jsonl`: publish a pings file to Kafka (and, optionally, reference data).

Lines are sent in file (arrival) order: batched per partition by default (one record = a JSON
array of the pings of one partition's vehicles), or one record per ping keyed by vehicle with
``--single``. Lines that are not JSON objects are sent anyway, alone: the worker dead-letters
them with their reason. ``--fences``/``--registry`` publish the reference data first (compacted
topics; each worker follows them). With a database (``--database``, default LANDUN_DATABASE_URL)
they are written to PostgreSQL, the system of record, and reach the topics through its outbox, as
an edit through the API does; without one they go straight to the topics (development).

``--final`` ends the input: workers then finish the run as
``landun detect`` finishes a file. ``--rate`` limits the pings per second.

Exit codes: 0 done; 1 Kafka or PostgreSQL failed; 2 a file is unreadable or invalid.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from landun.commands.worker import add_kafka_arguments


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `ingest` sub-command."""
    p = subparsers.add_parser(
        "ingest",
        help="publish a pings file (and reference data) to Kafka",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("pings", nargs="?", help="pings.jsonl, in arrival order")
    add_kafka_arguments(p)
    p.add_argument("--fences", help="fences GeoJSON to publish first (with --registry)")
    p.add_argument("--registry", help="registry.json to publish first (with --fences)")
    p.add_argument(
        "--database",
        default=os.environ.get("LANDUN_DATABASE_URL"),
        help="PostgreSQL URL: reference data goes through the system of record (default "
        "LANDUN_DATABASE_URL; none = straight to the topics)",
    )
    p.add_argument("--single", action="store_true", help="one record per ping (key = vehicle)")
    p.add_argument("--batch", type=int, default=500, help="pings per batch record (default 500)")
    p.add_argument("--rate", type=float, help="at most this many pings per second")
    p.add_argument("--final", action="store_true", help="end the input after the file")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import orjson
    from kafka.errors import KafkaError

    from geofence import FenceError
    from landun.production import ReferenceRejected
    from stream.kafka.producer import PingSender, make_producer
    from stream.kafka.topics import Topics, ensure_topics
    from stream.live.errors import ServiceUnavailable
    from stream.registry_checks import RegistryError

    if bool(args.fences) != bool(args.registry):
        return _fail("--fences and --registry go together", 2)
    if args.rate is not None and args.rate <= 0:
        return _fail("--rate must be positive", 2)
    topics = Topics(args.namespace)
    try:
        ensure_topics(args.bootstrap, topics, args.partitions)
        producer = make_producer(args.bootstrap)
        if args.fences:
            try:
                n = _reference(args, producer, topics)
            except (
                OSError,
                orjson.JSONDecodeError,
                FenceError,
                RegistryError,
                ReferenceRejected,
            ) as exc:
                return _fail(f"reference data not published: {exc}", 2)
            print(f"published {n} reference records")
        if args.pings:
            try:
                handle = open(args.pings, "rb")  # noqa: SIM115 - streamed below
            except OSError as exc:
                return _fail(f"cannot read {args.pings}: {exc.strerror or exc}", 2)
            sender = PingSender(
                producer,
                topics,
                _partitions(args, topics),
                1 if args.single else args.batch,
                stamp_event_time=True,  # a file has no receive time: see PingSender
            )
            with handle:
                lines = (line.rstrip(b"\r\n") for line in handle if line.strip())
                sender.send_lines(_paced(lines, args.rate, sender) if args.rate else lines)
            sender.final() if args.final else sender.flush()
            print(f"published {sender.sent} pings in {sender.records} records to {topics.pings}")
        producer.close()
    except KafkaError as exc:
        return _fail(f"Kafka: {exc}", 1)
    except (ServiceUnavailable, TimeoutError) as exc:
        return _fail(str(exc), 1)
    return 0


def _reference(args: argparse.Namespace, producer, topics) -> int:
    from stream.kafka.producer import publish_reference
    from stream.kafka.reference import read_reference

    if not args.database:
        return publish_reference(producer, topics, args.fences, args.registry)
    from pydantic import SecretStr

    from api.settings import Connections
    from landun.production import load_reference

    conn = Connections(
        database_url=SecretStr(args.database),
        kafka_bootstrap=args.bootstrap,
        namespace=args.namespace,
    )
    return load_reference(conn, *read_reference(args.fences, args.registry))


def _partitions(args: argparse.Namespace, topics) -> int:
    """The pings topic's real partition count (the batch routing depends on it)."""
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(bootstrap_servers=args.bootstrap)
    try:
        return len(consumer.partitions_for_topic(topics.pings) or ()) or args.partitions
    finally:
        consumer.close()


def _paced(lines, rate: float, sender):
    start = time.monotonic()
    for i, line in enumerate(lines):
        wait = start + i / rate - time.monotonic()
        if wait > 0:
            sender.send_open()  # nothing waits in a batch while the feed idles
            time.sleep(wait)
        yield line


def _fail(message: str, code: int) -> int:
    print(f"landun ingest: {message}", file=sys.stderr)
    return code
