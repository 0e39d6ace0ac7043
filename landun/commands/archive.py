"""`landun archive`: the production stream into the trace archive (Parquet, docs/formats.md).

One consumer (group ``{namespace}-archive``; a new group starts at the topics' beginning) reads
``{ns}.pings`` with the worker's verdicts from ``{ns}.pings.rejected``, ``{ns}.alerts``,
``{ns}.events``, ``{ns}.fences`` and ``{ns}.registry``, and writes every ping, alert version,
trip, stop, fence event and reference version to the archive. A batch is durable (temp file,
fsync, rename) before its offsets are committed; then ``DIR/_committed.json`` is rewritten. A
ping is archived once the worker's checkpoint covers it (its verdict is final then). One
consumer per archive directory.

``landun archive compact`` merges small files of the archive and deletes day partitions older
than the retention (LANDUN_ARCHIVE_RETENTION_DAYS); it reads ``_committed.json`` so that it never
merges a file a redelivery may still rewrite.

Runs until SIGTERM/SIGINT, or with ``--idle-exit S`` until nothing new came for S seconds; then
prints a JSON summary. HTTP on --port: /livez, /readyz (503 while writes fail), /metrics.
Settings: LANDUN_KAFKA_BOOTSTRAP, LANDUN_NAMESPACE, LANDUN_ARCHIVE_DIR.
Exit codes: 0 stopped; 1 Kafka unreachable at start-up; 2 bad arguments, or the archive
directory is held by another consumer.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time

from landun.commands.worker import add_kafka_arguments

# A query lists the files of its days, then reads them: a merge that deleted its inputs at once
# could make a query started just before it fail on a vanished file (replay.compact, grace_s).
GRACE_S = 60.0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `archive` sub-command (and `archive compact`)."""
    p = subparsers.add_parser(
        "archive",
        help="archive the Kafka stream (pings with verdicts, alerts, events) as Parquet",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_kafka_arguments(p)
    p.add_argument("--archive", help="archive directory (default LANDUN_ARCHIVE_DIR)")
    p.add_argument("--batch", type=int, default=20_000, help="most pings per file (20000)")
    p.add_argument(
        "--linger", type=float, default=10.0, help="seconds a batch waits to fill up (10)"
    )
    p.add_argument(
        "--idle-exit", type=float, metavar="SECONDS", help="stop after SECONDS with nothing new"
    )
    p.add_argument("--host", default="127.0.0.1", help="HTTP bind address for the probes")
    p.add_argument("--port", type=int, default=6068, help="HTTP port: /livez /readyz /metrics")
    p.set_defaults(func=run)
    sub = p.add_subparsers(dest="archive_command")
    c = sub.add_parser(
        "compact",
        help="merge small archive files; delete days beyond the retention",
        description="Merge small files (only those final per _committed.json) and delete day "
        "partitions older than LANDUN_ARCHIVE_RETENTION_DAYS. Prints the summary as JSON.",
    )
    c.add_argument("--archive", help="archive directory (default LANDUN_ARCHIVE_DIR)")
    c.add_argument("--now", help="the time retention counts from (epoch ms or ISO 8601)")
    c.add_argument(
        "--grace",
        type=float,
        default=GRACE_S,
        help="seconds the merged-away small files stay after a merge, for queries that listed "
        f"them just before it; the next run deletes them (default {GRACE_S:.0f})",
    )
    c.set_defaults(func=run_compact)


def run(args: argparse.Namespace) -> int:
    from kafka.errors import KafkaError
    from pydantic import ValidationError

    from landun.archive_setting import ArchiveSettingError
    from replay.archive_lock import ArchiveLocked, hold_archive

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("kafka").setLevel(logging.WARNING)  # a line per connection otherwise
    if args.batch < 1 or args.linger < 0 or (args.idle_exit is not None and args.idle_exit < 0):
        return _fail("archive", "--batch must be at least 1, --linger and --idle-exit >= 0")
    try:
        archive = _archive_dir(args.archive)
        lock = hold_archive(archive)
    except (ValidationError, ArchiveSettingError, ArchiveLocked, OSError) as exc:
        return _fail("archive", str(exc))
    try:
        archiver, closers = _archiver(args, archive)
    except KafkaError as exc:
        lock.close()
        return _fail("archive", repr(exc), 1)
    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())
    server = _probes(args, archiver)
    try:
        archiver.run(stopping.is_set, args.idle_exit)
    finally:
        server.shutdown()
        for close in closers:
            close()
        lock.close()
    _print(archiver.summary())
    return 0


def _archiver(args: argparse.Namespace, archive):
    """The consumer, its watermark reader and the closers (topics created when missing)."""
    from kafka import KafkaConsumer

    from replay.consumer import ArchiveOptions, Archiver
    from replay.watermark import WorkerWatermark
    from stream.kafka.topics import Topics, ensure_topics

    topics = Topics(args.namespace)
    consumer = KafkaConsumer(
        bootstrap_servers=args.bootstrap,
        group_id=f"{args.namespace}-archive",
        enable_auto_commit=False,
        auto_offset_reset="earliest",  # a new group archives everything the topics still hold
        client_id="landun-archive",
        max_partition_fetch_bytes=4 * 1024 * 1024,
    )
    try:
        existing = consumer.partitions_for_topic(topics.pings)
        partitions = len(existing) if existing else args.partitions
        ensure_topics(args.bootstrap, topics, partitions)
        watermark = WorkerWatermark(args.bootstrap, topics, partitions)
        options = ArchiveOptions(batch=args.batch, linger_s=args.linger)
        archiver = Archiver(consumer, watermark, archive, topics, options)
        archiver.start()
    except BaseException:
        consumer.close()
        raise
    return archiver, [consumer.close, watermark.close]


def _probes(args: argparse.Namespace, archiver):
    from landun.commands.alert_sink import _serve_probes
    from stream.kafka.probe import probe_kafka

    def probes() -> dict[str, str]:
        failing = archiver.failure
        return {
            "kafka": probe_kafka(args.bootstrap),
            "archive": "ok" if failing is None else f"writes failing: {failing}",
        }

    return _serve_probes(args.host, args.port, archiver.metrics.registry, probes)


def run_compact(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from landun.archive_setting import ArchiveSettingError, archive_settings
    from replay.committed import read_committed
    from stream.eventtime import parse_ts
    from stream.wire_values import PingError

    try:
        settings = archive_settings()  # one line naming a bad LANDUN_ARCHIVE_* (issue 12)
        archive = _archive_dir(args.archive)
        now_ms = parse_ts(args.now, "--now") if args.now else int(time.time() * 1000)
    except (ValidationError, ArchiveSettingError, PingError) as exc:
        return _fail("archive compact", str(exc))
    if not archive.is_dir():
        return _fail("archive compact", f"{archive}: no such archive directory")
    try:
        from replay.compact import compact
    except ModuleNotFoundError as exc:
        if exc.name != "replay.compact":
            raise
        return _fail("archive compact", "compaction is not available in this build", 1)
    committed = read_committed(archive)  # None: an embedded archive, every file final
    result = compact(
        archive,
        now_ms=now_ms,
        retention_days=settings.retention_days,
        committed=committed,
        grace_s=args.grace,
    )
    _print(result)
    return 0


def _archive_dir(given: str | None):
    from pathlib import Path

    from landun.archive_setting import archive_dir

    return Path(archive_dir(given))


def _print(doc) -> None:
    import orjson

    sys.stdout.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode() + "\n")
    sys.stdout.flush()


def _fail(cmd: str, message: str, code: int = 2) -> int:
    print(f"landun {cmd}: {message}", file=sys.stderr)
    return code
