"""The probe endpoints of a landun service process: /livez, /readyz and /metrics on a small
thread server beside the process's own loop (the alert sink, the archive consumer, the gateway).

/readyz answers 200 when every check says ``"ok"``, else 503 with the checks, so an
orchestrator (docker-compose health checks, Kubernetes) and an operator see which backing
service is missing.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PROMETHEUS_TEXT = "text/plain; version=0.0.4"


def serve_probes(
    host: str,
    port: int,
    checks: Callable[[], dict[str, str]],
    metrics: Callable[[], bytes],
    name: str = "probes",
) -> ThreadingHTTPServer:
    """Start the probe server on ``host:port`` in a daemon thread and return it.

    Parameters
    ----------
    host, port : str, int
        Where to listen.
    checks : callable
        Returns each backing service's state: ``"ok"`` or what is wrong.
    metrics : callable
        Returns the Prometheus text exposition of the process's counters.
    name : str
        The thread's name (for a stack dump).
    """

    class Probes(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the http.server API
            if self.path == "/livez":
                self._reply(200, b'{"status":"ok"}')
            elif self.path == "/metrics":
                self._reply(200, metrics(), PROMETHEUS_TEXT)
            elif self.path == "/readyz":
                state = checks()
                ok = all(c == "ok" for c in state.values())
                body = {"status": "ok" if ok else "unavailable", "checks": state}
                self._reply(200 if ok else 503, json.dumps(body).encode())
            else:
                self._reply(404, b'{"detail":"not found"}')

        def _reply(self, status: int, body: bytes, kind: str = "application/json"):
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):  # probes every few seconds would flood the log
            pass

    server = ThreadingHTTPServer((host, port), Probes)
    threading.Thread(target=server.serve_forever, name=name, daemon=True).start()
    return server
