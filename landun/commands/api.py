"""`landun api`: serve the HTTP/websocket API and the live map with uvicorn.

In production (the default) it runs over the real adapters (``landun.production``): PostgreSQL
for everything durable (its schema upgraded at start-up when behind), Redis for the live view
the workers write and for the bus, and an outbox relay publishing reference edits to the topics
the workers follow. ``--demo`` serves empty in-memory stores with the demo accounts instead.
Settings come from ``LANDUN_*`` variables (``api.settings``); the bind address and port from
``--host``/``--port``, else LANDUN_API_HOST / LANDUN_API_PORT (127.0.0.1:8000).

Exit codes: 0 stopped; 2 bad or missing settings; 1 a backing service is unreachable at start.
"""

from __future__ import annotations

import argparse
import copy
import logging
import re
import sys


def register(subparsers) -> None:
    parser = subparsers.add_parser("api", help="serve the API and the live map")
    parser.add_argument("--host", help="bind address (default LANDUN_API_HOST, else 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default LANDUN_API_PORT, else 8000)")
    parser.add_argument(
        "--demo", action="store_true", help="demo mode: demo logins, random secret (LANDUN_DEMO)"
    )
    parser.set_defaults(func=run)


class RedactTickets(logging.Filter):
    """Blank websocket tickets out of log lines (uvicorn logs the request path with its query)."""

    PATTERN = re.compile(r"(ticket=)[^&\s\"']+")

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                self.PATTERN.sub(r"\1***", a) if isinstance(a, str) else a for a in record.args
            )
        if isinstance(record.msg, str):
            record.msg = self.PATTERN.sub(r"\1***", record.msg)
        return True


def log_config() -> dict:
    """uvicorn's logging configuration with :class:`RedactTickets` on every handler."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["redact_tickets"] = {"()": RedactTickets}
    for handler in config["handlers"].values():
        handler.setdefault("filters", []).append("redact_tickets")
    return config


def serve(app, host: str, port: int, settings) -> None:
    """Run ``app`` with uvicorn, with the frame, header and connection limits the API expects:
    a request head must be complete within ``http_head_timeout_s`` (``landun.http_guard``),
    at most ``http_limit_concurrency`` connections are served (503 beyond) and the kernel
    queues ``http_backlog`` pending ones."""
    import uvicorn

    from landun.http_guard import head_timeout_protocol

    uvicorn.run(
        app,
        host=host,
        port=port,
        log_config=log_config(),
        # h11 (not httptools) so that the head size limit below and the head deadline hold.
        http=head_timeout_protocol(settings.http_head_timeout_s),
        limit_concurrency=settings.http_limit_concurrency,
        backlog=settings.http_backlog,
        ws_max_size=settings.ws_max_frame_bytes,
        # Compression costs CPU per frame and mixes secrets with attacker data (CRIME-style).
        ws_per_message_deflate=False,
        h11_max_incomplete_event_size=64 * 1024,
        log_level="info",
    )


def run(args: argparse.Namespace) -> int:
    from alembic.util.exc import CommandError
    from pydantic import ValidationError

    from api.app import create_app
    from api.settings import Settings
    from landun.production import (
        ConfigurationError,
        OutboxCollector,
        open_backends,
        production_ports,
        start_relay,
    )
    from stream.live.errors import ServiceUnavailable

    overrides = {"demo": True} if args.demo else {}
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        print(f"landun api: bad settings: {exc}", file=sys.stderr)
        return 2
    host = args.host or settings.api_host
    port = args.port or settings.api_port
    if settings.demo:  # in memory, whatever else is configured: a demo never touches real data
        if settings.database_url is not None or settings.redis_url:
            print("landun api: demo mode: in-memory stores; the database and Redis settings "
                  "are ignored", file=sys.stderr)  # fmt: skip
        serve(create_app(settings), host, port, settings)
        return 0
    try:
        backends = open_backends(settings)
    except ConfigurationError as exc:
        print(
            f"landun api: {exc}; or run `landun api --demo` for in-memory stores", file=sys.stderr
        )
        return 2
    except (ServiceUnavailable, CommandError) as exc:  # unreachable, or a schema newer than us
        print(f"landun api: {exc}", file=sys.stderr)
        return 1
    try:
        ports = production_ports(settings, backends, settings.track_points)
        relay = start_relay(settings, backends)
        app = create_app(settings, ports, probes=backends.probes)
        app.state.metrics.registry.register(OutboxCollector(backends.engine, relay))
        serve(app, host, port, settings)
    finally:
        backends.close()
    return 0
