"""Ports for the tests' servers without the race between choosing a port and binding it (issue 15).

A port chosen free (bind to 0, read it, close) can be taken by another process before the server
binds it. Two answers, one per use:

- a server we start: start it on a chosen port and, when it exits because that port was taken in
  the meantime (``lost_port``), start it again on a new one (the callers' ``ready`` does this);
- a port that must refuse connections (a service that is down): ``closed_port`` keeps the port
  bound, without listening, for as long as the test needs it, so no one can take it.
"""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

IN_USE = "address already in use"  # uvicorn/aiohttp (errno 98) and redis-server say it so


def free_port() -> int:
    """A port free at this instant; a server started on it must handle ``lost_port``."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def lost_port(proc: subprocess.Popen, log: Path) -> bool:
    """True when ``proc`` exited because its port was taken between choosing and binding."""
    if proc.poll() is None or not log.exists():
        return False
    return IN_USE in log.read_text(errors="replace").lower()


@contextmanager
def closed_port() -> Iterator[int]:
    """A loopback port that refuses connections for the block: bound (so no other process can
    take it) but never listening."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield s.getsockname()[1]
