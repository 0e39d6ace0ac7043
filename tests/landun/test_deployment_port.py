"""A deployment's process that loses its chosen port to another process before binding it is
started again on another port (issue 15: the choose-then-bind race of ``free_port``)."""

from __future__ import annotations

import os
import socket

import tests.landun.deployment as deployment
from tests.landun.deployment import Process, ready


def test_an_api_that_loses_its_port_starts_again_on_another(monkeypatch, tmp_path):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with socket.socket() as squatter:  # another process got there first
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        chosen = iter([taken])
        real = deployment.free_port
        monkeypatch.setattr(deployment, "free_port", lambda: next(chosen, None) or real())
        api = Process("api", lambda port: (["api", "--demo", "--port", str(port)], env), tmp_path)
        try:
            assert api.port == taken
            ready(api, 60)
            assert api.port != taken
            assert api.get("/livez")[0] == 200
        finally:
            api.stop()
