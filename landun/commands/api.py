"""`landun api`: serve the HTTP/websocket API and the live map with uvicorn.

For now it runs over in-memory ports (empty unless something feeds them); the Redis/Kafka
adapters replace them with the streaming work. Settings come from ``LANDUN_*`` variables.
"""

from __future__ import annotations

import argparse
import copy
import logging
import re
import sys


def register(subparsers) -> None:
    parser = subparsers.add_parser("api", help="serve the API and the live map")
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
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
    """Run ``app`` with uvicorn, with the frame and header limits the API expects."""
    import uvicorn

    uvicorn.run(
        app,
        host=host,
        port=port,
        log_config=log_config(),
        ws_max_size=settings.ws_max_frame_bytes,
        # Compression costs CPU per frame and mixes secrets with attacker data (CRIME-style).
        ws_per_message_deflate=False,
        h11_max_incomplete_event_size=64 * 1024,
        log_level="info",
    )


def run(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from api.app import create_app
    from api.settings import Settings

    overrides = {"demo": True} if args.demo else {}
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        print(f"landun api: bad settings: {exc}", file=sys.stderr)
        return 2
    serve(create_app(settings), args.host, args.port, settings)
    return 0
