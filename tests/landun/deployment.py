"""A production deployment for the end-to-end tests: `landun api` (production mode), `landun
alert-sink` and `landun worker` processes over the real Kafka, Redis and PostgreSQL of `make
services`, in a topic namespace, a Redis key prefix and a database of their own."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import orjson
from websockets.sync.client import connect

from stream.kafka.topics import Topics
from tests.ports import free_port, lost_port
from tests.stream.kafka.conftest import PARTITIONS, ROOT, Worker, wait_for

PASSWORD = "a long enough password"


class Process:
    """One `landun` sub-command in a subprocess, with its HTTP port and log file."""

    def __init__(self, name: str, rebind: Callable[[int], tuple[list[str], dict]], log_dir: Path):
        # rebind(port) -> (args, env) of the command on that port: issue 15, a port chosen free
        # can be taken before the process binds it, and ``ready`` then starts it on another.
        self.name, self.rebind, self.log_dir = name, rebind, log_dir
        self.proc: subprocess.Popen | None = None
        self._bind(free_port())
        self.start()

    def _bind(self, port: int) -> None:
        self.port = port
        self.args, self.env = self.rebind(port)
        self.log = self.log_dir / f"{self.name}-{port}.log"

    def start(self) -> None:
        with self.log.open("ab") as fh:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "landun.cli", *self.args],
                cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT, env=self.env,
            )  # fmt: skip

    def get(self, path: str, token: str | None = None) -> tuple[int, bytes]:
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=5) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()
        except OSError:
            return 0, b""

    def post(self, path: str, body: dict, token: str | None = None) -> tuple[int, dict]:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}", data=orjson.dumps(body), method="POST"
        )
        request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=10) as r:
                return r.status, orjson.loads(r.read())
        except urllib.error.HTTPError as exc:
            return exc.code, orjson.loads(exc.read() or b"{}")

    def ready(self) -> bool:
        if lost_port(self.proc, self.log):
            self._bind(free_port())
            self.start()
            return False
        assert self.proc.poll() is None, f"{self.name} exited: {self.log.read_text()[-3000:]}"
        return self.get("/readyz")[0] == 200

    # kill -9 and a graceful stop, as the stream tests' worker processes are handled.
    kill, stop = Worker.kill, Worker.stop


class Deployment:
    """The processes of one production deployment, started on demand and stopped together."""

    def __init__(self, bootstrap: str, topics: Topics, database_url: str, redis_url: str,
                 prefix: str, tmp_path: Path):  # fmt: skip
        self.bootstrap, self.topics, self.tmp = bootstrap, topics, tmp_path
        self.redis_url, self.prefix, self.database_url = redis_url, prefix, database_url
        self.env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "LANDUN_DATABASE_URL": database_url,
            "LANDUN_REDIS_URL": redis_url,
            "LANDUN_REDIS_PREFIX": prefix,
            "LANDUN_KAFKA_BOOTSTRAP": bootstrap,
            "LANDUN_NAMESPACE": topics.namespace,
            "LANDUN_SECRET_KEY": secrets.token_urlsafe(32),
        }
        self.env.pop("LANDUN_DEMO", None)
        self.processes: list[Process | Worker] = []

    def landun(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
        """Run a `landun` command to completion in this deployment's environment."""
        return subprocess.run(
            [sys.executable, "-m", "landun.cli", *args], cwd=ROOT, env=self.env, input=stdin,
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip

    def user(self, name: str, role: str, district: str | None = None) -> None:
        args = ["users", "add", name, "--role", role, "--password-stdin"]
        done = self.landun(*args, *(["--district", district] if district else []), stdin=PASSWORD)
        assert done.returncode == 0, done.stderr

    def api(self) -> Process:
        def on(port: int) -> tuple[list[str], dict]:
            return ["api"], {**self.env, "LANDUN_API_PORT": str(port)}

        return self._started(Process("api", on, self.tmp))

    def sink(self) -> Process:
        def on(port: int) -> tuple[list[str], dict]:
            return ["alert-sink", "--port", str(port)], self.env

        return self._started(Process("sink", on, self.tmp))

    def worker(self) -> Worker:
        extra = ("--redis", self.redis_url, "--redis-prefix", self.prefix)
        return self._started(Worker(self.bootstrap, self.topics, self.tmp, *extra))

    def ingest(self, sim: Path, *, final: bool = True, rate: float | None = None):
        """Reference data through PostgreSQL and the outbox, then the pings."""
        done = self.landun(*self._ingest_args(sim, final, rate))
        assert done.returncode == 0, done.stderr
        return done

    def ingest_in_background(self, sim: Path, rate: float) -> subprocess.Popen:
        """`landun ingest ... --final` running while the test goes on."""
        log = (self.tmp / "ingest.log").open("ab")
        return subprocess.Popen(
            [sys.executable, "-m", "landun.cli", *self._ingest_args(sim, True, rate)],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip

    @staticmethod
    def _ingest_args(sim: Path, final: bool, rate: float | None) -> list[str]:
        args = ["ingest", str(sim / "pings.jsonl"), "--partitions", str(PARTITIONS)]
        args += ["--fences", str(sim / "fences.geojson"), "--registry", str(sim / "registry.json")]
        args += ["--final"] if final else []
        return args + (["--rate", str(rate)] if rate else [])

    def _started(self, process):
        self.processes.append(process)
        return process

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()


def login(api: Process, name: str) -> str:
    status, body = api.post("/api/auth/login", {"username": name, "password": PASSWORD})
    assert status == 200, body
    return body["access_token"]


def socket(api: Process, token: str, path: str):
    """A websocket on ``path`` with a fresh single-use ticket."""
    status, body = api.post("/api/auth/ws-ticket", {}, token)
    assert status == 200, body
    sep = "&" if "?" in path else "?"
    return connect(f"ws://127.0.0.1:{api.port}{path}{sep}ticket={body['ticket']}")


def alert_frames(frame: dict) -> list[tuple[int, dict]]:
    """(seq, alert) pairs of one /ws/alerts frame of any type."""
    kind = frame["type"]
    if kind in ("snapshot", "resync"):
        return [(frame["seq"], a) for a in frame["alerts"]]
    if kind == "batch":
        return [pair for event in frame["events"] for pair in alert_frames(event)]
    return [(frame["seq"], frame["alert"])]


def ready(process, timeout: float = 90) -> None:
    wait_for(process.ready, timeout, f"{type(process).__name__} to be ready")
