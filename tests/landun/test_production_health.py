"""Health tells the truth (issue 10): the API on the real adapters keeps serving what is up when
Redis or PostgreSQL is not, answers 503 naming the missing service (never a 500), /readyz says
which one is down, and everything recovers when the service is back."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.app import create_app
from api.db import connect
from api.db.migrate import upgrade
from landun.production import Backends, production_ports
from stream.live.redis import client
from tests.api.conftest import make_settings
from tests.stream.kafka.conftest import free_port, wait_for


class PrivateRedis:
    """A redis-server of this test's own, to be stopped and started again."""

    def __init__(self, tmp_path):
        self.port, self.dir = free_port(), tmp_path
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server missing: `make services` installs it"
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.dir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_for(self._answers, 10, "the private Redis", every=0.05)

    def _answers(self) -> bool:
        try:
            return client(self.url).ping()
        except Exception:
            return False

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


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
    closed = f"postgresql+psycopg://landun@127.0.0.1:{free_port()}/landun"
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
