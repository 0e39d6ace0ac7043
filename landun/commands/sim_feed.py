"""`landun sim-feed`: simulate a fleet night and stream it to Kafka as it would arrive.

The simulator of `landun sim` (same arguments, same seed, same pings), but instead of files the
reference data goes to the compacted topics and the pings to the pings topic, paced by their
arrival times at ``--rate`` times real time (1 = real time, 60 = an hour a minute), batched per
partition with a short linger. ``--final`` ends the input afterwards (workers finish the run as
``landun detect`` would). ``landun sim ... --out D`` with the same seed writes the same pings to a
file, e.g. to compare the stream's alerts with ``landun detect``'s.

Exit codes: 0 done; 1 Kafka failed; 2 bad arguments.
"""

from __future__ import annotations

import argparse
import sys
import time

from landun.commands.worker import add_kafka_arguments
from sim import DEFAULT_START


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `sim-feed` sub-command."""
    p = subparsers.add_parser(
        "sim-feed",
        help="simulate a fleet and stream its pings to Kafka (paced)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--vehicles", type=int, default=200, help="fleet size (default 200)")
    p.add_argument("--hours", type=float, default=12.0, help="horizon in hours (default 12)")
    p.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    p.add_argument("--start", default=DEFAULT_START, help="start, ISO 8601 with an offset")
    p.add_argument("--rate", type=float, default=60.0, help="x real time (default 60)")
    p.add_argument("--batch", type=int, default=500, help="most pings per batch record")
    p.add_argument("--linger", type=float, default=0.02, help="longest batch wait, seconds")
    p.add_argument("--final", action="store_true", help="end the input after the night")
    add_kafka_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from kafka.errors import KafkaError

    from landun.commands.sim import parse_start
    from sim import feed, simulate, writer
    from stream.kafka.producer import PingSender, make_producer, publish_reference_data
    from stream.kafka.topics import Topics, ensure_topics

    try:
        start_ms = parse_start(args.start)
        if args.vehicles < 1 or args.hours <= 0 or args.rate <= 0:
            raise ValueError("--vehicles must be >= 1, --hours and --rate > 0")
    except ValueError as exc:
        print(f"landun sim-feed: {exc}", file=sys.stderr)
        return 2
    sim = simulate(args.vehicles, args.hours, args.seed, start_ms)
    topics = Topics(args.namespace)
    try:
        ensure_topics(args.bootstrap, topics, args.partitions)
        producer = make_producer(args.bootstrap)
        n = publish_reference_data(
            producer, topics, writer.fences(sim.world), writer.registry(sim.world)
        )
        sender = PingSender(
            producer, topics, args.partitions, batch_pings=args.batch, linger_s=args.linger
        )
        t0 = time.monotonic()

        def sleep(seconds: float) -> None:
            sender.send_open()  # nothing waits in a batch while the feed idles
            time.sleep(seconds)

        for ping in feed.paced(feed.arrivals(sim), args.rate, time.monotonic, sleep):
            sender.send_line(writer.line(ping).rstrip(b"\n"))
            sender.flush_due()
        sender.final() if args.final else sender.flush()
        producer.close()
    except KafkaError as exc:
        print(f"landun sim-feed: Kafka: {exc}", file=sys.stderr)
        return 1
    elapsed = time.monotonic() - t0
    print(f"published {n} reference records and {sender.sent} pings in {elapsed:.1f} s")
    return 0
