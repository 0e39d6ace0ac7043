"""A throw-away production deployment for the benchmarks: `landun api` (production mode),
`landun alert-sink` and `landun worker` processes over the real Kafka, Redis and PostgreSQL of
`make services`, in a topic namespace, a Redis key prefix and a database of their own, all
removed again by :meth:`Deployment.close` (topics, consumer groups, keys, database, processes).

Settings come from the usual variables: LANDUN_KAFKA_BOOTSTRAP (else 127.0.0.1:LANDUN_KAFKA_PORT),
LANDUN_REDIS_PORT (6379) and LANDUN_PG_PORT (5432; role landun, trust auth, as `make services`
sets it up).
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
import psycopg
import redis
from kafka import KafkaAdminClient

from stream.kafka.topics import Topics, ensure_topics

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "a long enough benchmark password"


def kafka_bootstrap() -> str:
    port = os.environ.get("LANDUN_KAFKA_PORT", "9092")
    return os.environ.get("LANDUN_KAFKA_BOOTSTRAP", f"127.0.0.1:{port}")


def pg_port() -> int:
    return int(os.environ.get("LANDUN_PG_PORT", "5432"))


def redis_url() -> str:
    return f"redis://127.0.0.1:{int(os.environ.get('LANDUN_REDIS_PORT', '6379'))}/0"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(check, timeout: float, what: str, every: float = 0.3) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(every)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")


class Process:
    """One `landun` sub-command in a subprocess with an HTTP port (/readyz, /metrics)."""

    def __init__(self, name: str, args: list[str], env: dict, log_dir: Path, port: int):
        self.name, self.port = name, port
        self.log = log_dir / f"{name}-{port}.log"
        with self.log.open("ab") as fh:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "landun.cli", *args],
                cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT, env=env,
            )  # fmt: skip
        self.url = f"http://127.0.0.1:{port}"

    def status(self, path: str) -> int:
        try:
            return httpx.get(self.url + path, timeout=3).status_code
        except httpx.HTTPError:
            return 0

    def ready(self) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} exited: {self.log.read_text()[-3000:]}")
        return self.status("/readyz") == 200

    def metric(self, name: str, client: httpx.Client | None = None) -> float:
        """Sum of one Prometheus sample family on /metrics (0 when unreachable)."""
        try:
            body = (client or httpx).get(self.url + "/metrics", timeout=3).text
        except httpx.HTTPError:
            return 0.0
        return metric_sum(body, name)

    def cpu_seconds(self) -> float:
        """User + system CPU time of the process so far (Linux /proc)."""
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def metric_sum(body: str, name: str, label: str = "") -> float:
    """Sum of the samples of ``name`` (with ``label`` text inside the braces, if given)."""
    total = 0.0
    for line in body.splitlines():
        if line.startswith(name) and line[len(name) : len(name) + 1] in (" ", "{"):
            if label and label not in line:
                continue
            total += float(line.rsplit(" ", 1)[1])
    return total


class Deployment:
    """Fresh namespace, database and Redis prefix; processes started on demand.

    Use as a context manager: everything it made is removed on exit, also after an error.
    """

    def __init__(self, partitions: int = 8, log_dir: Path | None = None):
        tag = uuid.uuid4().hex[:10]
        self.bootstrap = kafka_bootstrap()
        self.topics = Topics(f"lb{tag}")
        self.partitions = partitions
        self.database = f"landun_b_{tag}"
        self.prefix = f"lb{tag}"
        self.redis_url = redis_url()
        self.database_url = f"postgresql+psycopg://landun@127.0.0.1:{pg_port()}/{self.database}"
        self.log_dir = log_dir or ROOT / "var" / "bench" / "logs" / f"production-{tag}"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "LANDUN_DATABASE_URL": self.database_url,
            "LANDUN_REDIS_URL": self.redis_url,
            "LANDUN_REDIS_PREFIX": self.prefix,
            "LANDUN_KAFKA_BOOTSTRAP": self.bootstrap,
            "LANDUN_NAMESPACE": self.topics.namespace,
            "LANDUN_SECRET_KEY": secrets.token_urlsafe(32),
        }
        self.env.pop("LANDUN_DEMO", None)
        self.processes: list[Process] = []
        self._created_db = False

    # --- set-up -------------------------------------------------------------------------------

    def __enter__(self) -> Deployment:
        try:
            with pg_connect("landun") as conn:
                conn.execute(f'CREATE DATABASE "{self.database}" OWNER landun')
            self._created_db = True
            ensure_topics(self.bootstrap, self.topics, self.partitions)
            self.landun("db", "upgrade")
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def landun(self, *args: str, stdin: str | None = None, timeout: float = 900) -> str:
        """Run a `landun` command to completion in this deployment's environment."""
        done = subprocess.run(
            [sys.executable, "-m", "landun.cli", *args], cwd=ROOT, env=self.env, input=stdin,
            capture_output=True, text=True, timeout=timeout,
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"landun {' '.join(args)} failed: {done.stderr[-3000:]}")
        return done.stdout

    def user(self, name: str, role: str) -> None:
        self.landun("users", "add", name, "--role", role, "--password-stdin", stdin=PASSWORD)

    def api(self) -> Process:
        port = free_port()
        env = {**self.env, "LANDUN_API_PORT": str(port)}
        return self._started(Process("api", ["api"], env, self.log_dir, port))

    def sink(self) -> Process:
        port = free_port()
        args = ["alert-sink", "--port", str(port)]
        return self._started(Process("sink", args, self.env, self.log_dir, port))

    def worker(self, live: bool = False) -> Process:
        port = free_port()
        args = [
            "worker", "--bootstrap", self.bootstrap, "--namespace", self.topics.namespace,
            "--partitions", str(self.partitions), "--store", "memory://", "--port", str(port),
            "--standby", "0", "--datadir", str(self.log_dir / f"worker-{port}"),
        ]  # fmt: skip
        if live:
            args += ["--redis", self.redis_url, "--redis-prefix", self.prefix]
        return self._started(Process("worker", args, self.env, self.log_dir, port))

    def _started(self, process: Process) -> Process:
        self.processes.append(process)
        return process

    @staticmethod
    def ready(*processes: Process, timeout: float = 600) -> None:
        for p in processes:
            wait_until(p.ready, timeout, f"{p.name} on port {p.port} to be ready")

    # --- tear-down ----------------------------------------------------------------------------

    def close(self) -> None:
        """Stop the processes, then drop the database, the topics, the groups and the keys."""
        for p in reversed(self.processes):
            try:
                p.stop()
            except Exception as exc:  # noqa: BLE001 - clean up the rest anyway
                print(f"stopping {p.name}: {exc!r}", file=sys.stderr)
        self.processes.clear()
        for step in (self._drop_database, self._drop_topics, self._drop_keys):
            try:
                step()
            except Exception as exc:  # noqa: BLE001 - clean up the rest anyway
                print(f"clean-up {step.__name__}: {exc!r}", file=sys.stderr)

    def _drop_database(self) -> None:
        if self._created_db:
            with pg_connect("landun") as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
            self._created_db = False

    def _drop_topics(self) -> None:
        ns = self.topics.namespace
        admin = KafkaAdminClient(bootstrap_servers=self.bootstrap, client_id="landun-bench")
        try:
            mine = [t for t in admin.list_topics() if t.startswith(ns)]
            if mine:
                admin.delete_topics(mine)
            groups = [g["group_id"] for g in admin.list_groups()]
            mine = [g for g in groups if g.startswith(ns)]
            if mine:
                admin.delete_groups(mine)
        finally:
            admin.close()

    def _drop_keys(self) -> None:
        r = redis.Redis.from_url(self.redis_url)
        try:
            batch = []
            for key in r.scan_iter(f"{self.prefix}:*", count=1000):
                batch.append(key)
                if len(batch) >= 1000:
                    r.delete(*batch)
                    batch = []
            if batch:
                r.delete(*batch)
        finally:
            r.close()


def pg_connect(database: str, **kwargs) -> psycopg.Connection:
    kwargs.setdefault("autocommit", True)
    return psycopg.connect(
        host="127.0.0.1", port=pg_port(), user="landun", dbname=database, connect_timeout=5,
        **kwargs,
    )  # fmt: skip


class Api:
    """An HTTP/1.1 keep-alive client of one `landun api`."""

    def __init__(self, process: Process):
        self.process = process
        self.client = httpx.Client(base_url=process.url, timeout=30)

    def login(self, name: str) -> str:
        r = self.client.post("/api/auth/login", json={"username": name, "password": PASSWORD})
        r.raise_for_status()
        return r.json()["access_token"]

    def ws_url(self, token: str, path: str) -> str:
        r = self.client.post("/api/auth/ws-ticket", json={}, headers=bearer(token))
        r.raise_for_status()
        return f"ws://127.0.0.1:{self.process.port}{path}?ticket={r.json()['ticket']}"

    def close(self) -> None:
        self.client.close()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class LoadSampler:
    """Samples the 1-minute load average every ``every`` seconds in a thread."""

    def __init__(self, every: float = 5.0):
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._every = every
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> LoadSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while True:
            self.samples.append(os.getloadavg()[0])
            if self._stop.wait(self._every):
                self.samples.append(os.getloadavg()[0])
                return

    def summary(self) -> dict:
        s = self.samples or [os.getloadavg()[0]]
        return {"min": round(min(s), 2), "mean": round(sum(s) / len(s), 2), "max": round(max(s), 2)}
