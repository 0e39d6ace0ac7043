"""`landun rebuild-live`: rebuild the Redis live view (positions) from Kafka.

Positions come from the stream workers' state changelog (the last live ping of every vehicle),
the times until which vehicles are drawn in violation from the alerts topic, districts from the
registry topic. Position keys are cleared first. Alerts and cases are not in Redis: the alert
sink (`landun alert-sink`) re-reads the alerts topic into PostgreSQL. Safe while workers run
(every write is guarded by event time or only moves a violation's end forward).
"""

from __future__ import annotations

import argparse
import os
import sys

from landun.commands.worker import add_kafka_arguments


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `rebuild-live` sub-command."""
    p = subparsers.add_parser(
        "rebuild-live",
        help="rebuild the Redis live view from Kafka",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_kafka_arguments(p)
    default = os.environ.get("LANDUN_REDIS_URL")
    if default is None:
        default = f"redis://127.0.0.1:{os.environ.get('LANDUN_REDIS_PORT', '6379')}/0"
    p.add_argument("--redis", default=default, help="Redis URL (default LANDUN_REDIS_URL)")
    p.add_argument("--redis-prefix", default="landun", help="prefix of the live view's keys")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import redis
    from kafka.errors import KafkaError

    from stream.kafka.topics import Topics
    from stream.live.errors import ServiceUnavailable
    from stream.live.rebuild import rebuild_live
    from stream.live.view import RedisLiveView

    try:
        view = RedisLiveView(args.redis, args.redis_prefix)
        counts = rebuild_live(args.bootstrap, Topics(args.namespace), view)
    except (KafkaError, redis.RedisError, ServiceUnavailable, OSError) as exc:
        print(f"landun rebuild-live: {exc}", file=sys.stderr)
        return 1
    print(
        f"rebuilt {args.redis_prefix}: {counts['positions']} positions, "
        f"violation times from {counts['alerts']} alerts "
        f"({counts['cleared_keys']} old position keys cleared)"
    )
    return 0
