"""Health tells the truth (issue 10): the API on the real adapters keeps serving what is up when
Redis or PostgreSQL is not, answers 503 naming the missing service (never a 500), /readyz says
which one is down, and everything recovers when the service is back."""

from __future__ import annotations

import shutil
import socket
import subprocess

import pytest
import redis
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.app import create_app
from api.db import connect
from api.db.migrate import upgrade
from landun.production import Backends, production_ports
from stream.live.redis import client
from tests.api.conftest import make_settings
from tests.ports import closed_port, free_port, lost_port
from tests.stream.kafka.conftest import wait_for


class PrivateRedis:
    """A redis-server of this test's own, to be stopped and started again."""

    def __init__(self, tmp_path):
        self.port, self.dir = free_port(), tmp_path
        self.proc: subprocess.Popen | None = None
        self.started = False

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start; the first start moves to another port if the chosen one was taken before the
        server bound it (issue 15). A restart keeps its port: the app under test holds the URL."""
        binary = shutil.which("redis-server")
        assert binary, "redis-server missing: `make services` installs it"
        for _ in range(3):
            log = self.dir / f"redis-{self.port}.log"
            with log.open("ab") as fh:
                self.proc = subprocess.Popen(
                    [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                     "--appendonly", "no", "--dir", str(self.dir)],
                    stdout=fh, stderr=subprocess.STDOUT,
                )  # fmt: skip
            # Our process must be the one answering (_answers compares the server's pid).
            wait_for(
                lambda: self.proc.poll() is not None or self._answers(), 10, "the private Redis"
            )
            if self.proc.poll() is None:
                self.started = True
                return
            assert not self.started and lost_port(self.proc, log), log.read_text()[-2000:]
            self.port = free_port()
        pytest.fail("no free port for the private Redis in three tries")

    def _answers(self) -> bool:
        """True when our redis-server answers on the port (not whoever else may have taken it)."""
        try:
            probe = redis.Redis.from_url(self.url, socket_timeout=1, socket_connect_timeout=1)
            with probe:  # short timeouts: whoever took the port may accept and never answer
                return probe.info("server")["process_id"] == self.proc.pid
        except Exception:
            return False

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def test_a_private_redis_whose_port_was_taken_starts_on_another(tmp_path):
    with socket.socket() as squatter:  # took the chosen port before redis-server bound it
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        server = PrivateRedis(tmp_path)
        server.port = taken = squatter.getsockname()[1]
        try:
            server.start()
            assert server.port != taken and server._answers()
        finally:
            server.stop()


@pytest.fixture
def private_redis(tmp_path):
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.stop()


def production_app(database_url: str, redis_url: str):
    settings = make_settings().model_copy(
        update={"database_url": SecretStr(database_url), "redis_url": redis_url}
    )
    engine, r = connect(database_url), client(redis_url)
    backends = Backends(engine, r, redis_url, [engine.dispose, r.close])
    ports = production_ports(settings, backends)
    return create_app(settings, ports, probes=backends.probes), backends


def admin_headers(app) -> dict[str, str]:
    from api.security import Principal, Role

    app.state.ports.users.add(_admin())
    token = app.state.issuer.issue(Principal("root", Role.ADMIN, None))
    return {"Authorization": f"Bearer {token}"}


def _admin():
    from api.passwords import hash_password
    from api.security import make_user

    return make_user("root", "admin", None, hash_password("a long enough password"))


def test_redis_down_then_back(database_url, private_redis):
    upgrade(database_url)
    app, backends = production_app(database_url, private_redis.url)
    with TestClient(app) as http:
        headers = admin_headers(app)
        assert http.get("/readyz").json()["checks"] == {
            "hub": "ok", "postgresql": "ok", "redis": "ok"
        }  # fmt: skip
        assert http.get("/api/live", headers=headers).status_code == 200

        private_redis.stop()
        live = http.get("/api/live", headers=headers)
        assert live.status_code == 503 and live.json()["service"] == "redis"
        assert "Retry-After" in live.headers
        # PostgreSQL is up: its reads are served.
        assert http.get("/api/alerts", headers=headers).status_code == 200
        assert http.get("/api/fences", headers=headers).status_code == 200
        ready = http.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["redis"] != "ok"
        assert ready.json()["checks"]["postgresql"] == "ok"
        wait_for(lambda: not app.state.hub.running, 15, "the hub to notice")

        private_redis.start()
        wait_for(lambda: http.get("/readyz").status_code == 200, 20, "readiness to come back")
        assert http.get("/api/live", headers=headers).status_code == 200
    backends.close()


def test_postgresql_unreachable(private_redis):
    with closed_port() as port:  # held for the test: no server can take it meanwhile (issue 15)
        check_postgresql_unreachable(private_redis, port)


def check_postgresql_unreachable(private_redis, port: int) -> None:
    closed = f"postgresql+psycopg://landun@127.0.0.1:{port}/landun"
    app, backends = production_app(closed, private_redis.url)
    with TestClient(app, raise_server_exceptions=False) as http:
        ready = http.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["postgresql"] != "ok"
        assert ready.json()["checks"]["redis"] == "ok"
        login = http.post("/api/auth/login", json={"username": "root", "password": "x" * 12})
        assert login.status_code == 503 and login.json()["service"] == "postgresql"
        assert "127.0.0.1" not in login.text  # no connection details leak to clients
    backends.close()
