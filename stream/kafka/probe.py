"""Readiness probe of the Kafka cluster, safe to call from any thread."""

from __future__ import annotations

import socket


def probe_kafka(bootstrap: str, timeout_s: float = 1.0) -> str:
    """``"ok"`` when a bootstrap broker accepts a TCP connection, else why not.

    Kafka clients are not thread-safe, so a probe served by another thread than the one
    consuming does not ask them; a broker that accepts connections is the readiness signal.

    Examples
    --------
    >>> probe_kafka("127.0.0.1:1").startswith("unreachable")
    True
    """
    for address in bootstrap.split(","):
        host, _, port = address.strip().rpartition(":")
        try:
            socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout_s).close()
            return "ok"
        except (OSError, ValueError):
            continue
    return f"unreachable: no broker of {bootstrap} accepts connections"
