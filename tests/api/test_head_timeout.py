"""`landun api` serves with a deadline on request heads: a half-open or slow-head socket is
closed with 408 instead of holding a connection for as long as the client likes."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn

from api.app import create_app
from landun.commands import api as command
from tests.api.conftest import make_settings

pytestmark = pytest.mark.timeout(60)
HEAD_TIMEOUT_S = 0.3


@pytest.fixture
def server(monkeypatch) -> Iterator[tuple[str, int]]:
    """The app served on a loopback port with exactly the options ``serve()`` gives uvicorn."""
    captured: dict = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: captured.update(options, app=app))
    settings = make_settings(http_head_timeout_s=HEAD_TIMEOUT_S)
    command.serve(create_app(settings), "127.0.0.1", 0, settings)
    assert captured["limit_concurrency"] == settings.http_limit_concurrency
    assert captured["backlog"] == settings.http_backlog
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    options = {k: v for k, v in captured.items() if k not in ("app", "host", "port")}
    config = uvicorn.Config(captured["app"], **(options | {"log_level": "warning"}))
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    for _ in range(500):
        if running.started:
            break
        time.sleep(0.01)
    yield listener.getsockname()
    running.should_exit = True
    thread.join(10)
    listener.close()


def read_all(conn: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    conn.settimeout(20)  # a guard against a hang, not a measurement
    chunks = []
    while chunk := conn.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def read_response(conn: socket.socket) -> bytes:
    conn.settimeout(20)
    data = b""
    while b"\r\n\r\n" not in data:
        data += conn.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(next(v for k, v in _headers(head) if k == b"content-length"))
    while len(body) < length:
        body += conn.recv(65536)
    return head


def _headers(head: bytes):
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        yield name.strip().lower(), value.strip()


def test_a_partial_request_line_is_closed_after_the_deadline(server):
    with socket.create_connection(server) as conn:
        conn.sendall(b"GET /livez HT")
        answer = read_all(conn)
    assert answer.startswith(b"HTTP/1.1 408 ")


def test_a_silent_connection_is_closed_after_the_deadline(server):
    with socket.create_connection(server) as conn:
        assert read_all(conn).startswith(b"HTTP/1.1 408 ")


def test_a_kept_alive_connection_has_the_deadline_for_each_request(server):
    with socket.create_connection(server) as conn:
        conn.sendall(b"GET /livez HTTP/1.1\r\nhost: x\r\n\r\n")
        assert read_response(conn).startswith(b"HTTP/1.1 200 ")
        conn.sendall(b"GET /livez HTTP/1.1\r\nhost: x\r\n")  # the blank line never comes
        assert read_all(conn).startswith(b"HTTP/1.1 408 ")


def test_a_slow_body_after_a_complete_head_is_not_cut(server):
    with socket.create_connection(server) as conn:
        head = b"POST /api/auth/login HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
        body = b'{"username": "nobody", "password": "wrong-password"}'
        conn.sendall(head + b"content-length: %d\r\n\r\n" % len(body))
        time.sleep(HEAD_TIMEOUT_S * 3)  # well past the head deadline
        conn.sendall(body)
        assert read_response(conn).startswith(b"HTTP/1.1 401 ")
