"""Fixtures of the streaming tests: the real broker, a fresh topic namespace per test, a small
simulation with its `landun detect` reference, and worker processes (`landun worker`).

Like tests/services, these fail (never skip) when Kafka is not up: run `make services`.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import pytest
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from landun.cli import main as landun
from stream.kafka.topics import Topics, drop_namespace, ensure_topics, read_to_end
from tests.ports import free_port, lost_port
from tests.services.conftest import HOW_TO_START, kafka_bootstrap_address

PARTITIONS = 4
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def bootstrap() -> str:
    address = kafka_bootstrap_address()
    host, _, port = address.split(",")[0].rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=3).close()
        admin = KafkaAdminClient(bootstrap_servers=address, request_timeout_ms=10_000)
        admin.list_topics()
        admin.close()
    except (KafkaError, OSError) as exc:
        pytest.fail(f"Kafka is not answering on {address} ({exc!r}); {HOW_TO_START}", pytrace=False)
    return address


@pytest.fixture
def topics(bootstrap: str) -> Iterator[Topics]:
    """A fresh namespace with all its topics; deleted afterwards."""
    ns = f"lt{uuid.uuid4().hex[:10]}"
    t = Topics(ns)
    ensure_topics(bootstrap, t, PARTITIONS)
    yield t
    drop_namespace(bootstrap, ns)


@pytest.fixture(scope="session")
def sim(tmp_path_factory) -> Path:
    """A small simulated night (files of `landun sim`) and `landun detect`'s alerts for it."""
    out = tmp_path_factory.mktemp("sim")
    assert (
        landun(["sim", "--vehicles", "30", "--hours", "3", "--seed", "3", "--out", str(out)]) == 0
    )
    detect(out, out / "fences.geojson", out / "registry.json", out / "pings.jsonl", "alerts")
    return out


def detect(out: Path, fences: Path, registry: Path, pings: Path, name: str) -> dict[str, dict]:
    """Run `landun detect`; its alerts by id (also written to out/<name>.jsonl)."""
    path = out / f"{name}.jsonl"
    args = ["detect", "--fences", str(fences), "--registry", str(registry), "--pings", str(pings)]
    assert landun([*args, "--out", str(path), "--rejected", str(out / f"{name}.rej")]) == 0
    return {a["id"]: a for a in map(orjson.loads, path.read_bytes().splitlines())}


def read_topic(bootstrap: str, topic: str, timeout_s: float = 60) -> list:
    """Every record of ``topic`` up to its end offsets (``stream.kafka.topics.read_to_end``);
    running out of time fails the test (issue 15: a short read once passed a check)."""
    try:
        return read_to_end(bootstrap, topic, timeout_s)
    except TimeoutError as exc:
        pytest.fail(str(exc))


def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
        return {tp.partition: off for tp, off in consumer.end_offsets(tps).items()}
    finally:
        consumer.close()


def wait_for(check: Callable[[], bool], timeout: float, what: str, every: float = 0.5) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(every)
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")


class Worker:
    """A `landun worker` subprocess (memory store) on its own HTTP port."""

    def __init__(self, bootstrap: str, topics: Topics, log_dir: Path, *extra: str):
        self.args = [
            "worker", "--bootstrap", bootstrap, "--namespace", topics.namespace,
            "--partitions", str(PARTITIONS), "--store", "memory://", "--loglevel", "info",
            "--datadir", str(log_dir / "worker-data"), *extra,  # issue 15: not var/
        ]  # fmt: skip
        self.log_dir = log_dir
        self.start()

    def start(self) -> None:
        """Start on a newly chosen port (``ready`` starts again if another process took it)."""
        self.port = free_port()
        self.log = self.log_dir / f"worker-{self.port}.log"
        cmd = [sys.executable, "-m", "landun.cli", *self.args, "--port", str(self.port)]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        with self.log.open("wb") as fh:
            self.proc = subprocess.Popen(
                cmd, cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT, env=env
            )

    def get(self, path: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=2) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()
        except OSError:
            return 0, b""

    def ready(self) -> bool:
        if lost_port(self.proc, self.log):  # chosen free, taken before the worker bound it
            self.start()
            return False
        assert self.proc.poll() is None, f"worker exited: {self.log.read_text()[-3000:]}"
        return self.get("/readyz")[0] == 200

    def metric(self, name: str) -> float:
        """Sum of a Prometheus sample family (e.g. ``landun_pings_in_total``) on /metrics."""
        status, body = self.get("/metrics")
        total = 0.0
        for line in body.decode().splitlines():
            if line.startswith(name) and (line[len(name)] in " {"):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def kill(self) -> None:
        """kill -9."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def workers(bootstrap: str, topics: Topics, tmp_path: Path) -> Iterator[Callable[..., Worker]]:
    """Start workers with ``workers()``; all are stopped at the end of the test."""
    started: list[Worker] = []

    def start(*extra: str) -> Worker:
        w = Worker(bootstrap, topics, tmp_path, *extra)
        started.append(w)
        return w

    yield start
    for w in started:
        w.stop()
