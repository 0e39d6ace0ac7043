"""A worker whose port is taken between the test choosing it and the worker binding it is
started again on another port (issue 15: the choose-then-bind race of ``free_port``)."""

from __future__ import annotations

import socket

import tests.stream.kafka.conftest as kafka_conftest
from tests.stream.kafka.conftest import wait_for


def test_a_worker_that_loses_its_port_starts_again_on_another(workers, monkeypatch, tmp_path):
    with socket.socket() as squatter:  # another process got there first
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        chosen = iter([taken])
        real = kafka_conftest.free_port
        monkeypatch.setattr(kafka_conftest, "free_port", lambda: next(chosen, None) or real())
        worker = workers()
        assert worker.port == taken
        wait_for(worker.ready, 90, "the worker to be ready on a port of its own")
    assert worker.port != taken
    assert worker.get("/livez")[0] == 200
    assert (tmp_path / "worker-data").is_dir()  # its tables live in the test's directory
