"""`landun demo` checks its port before it prints a URL or opens a browser (issue 13).

A newcomer whose port 8000 was already serving something got the demo's banner, a browser tab
on that other program, and a traceback from uvicorn a minute later. Now the demo binds its
address first: a taken port is a one-line refusal naming the port and how to pick another.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import webbrowser
from pathlib import Path

import pytest

from landun.cli import main
from landun.commands import demo


@pytest.fixture
def opened(monkeypatch):
    """The URLs a browser was asked to open; the demo's later steps must not be reached."""
    urls: list[str] = []
    monkeypatch.setattr(webbrowser, "open", lambda url, *a, **kw: urls.append(url))

    def reached(*a, **kw):
        raise AssertionError("the demo went on past a port it could not bind")

    monkeypatch.setattr(demo, "_check_fences", reached)
    monkeypatch.setattr(demo.asyncio, "run", reached)
    return urls


@pytest.mark.parametrize("listening", [True, False], ids=["a server on it", "bound, not serving"])
def test_a_taken_port_is_refused_before_any_url_or_browser(tmp_path, capsys, opened, listening):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        if listening:
            squatter.listen()
        taken = squatter.getsockname()[1]
        code = main(["demo", "--port", str(taken), "--archive", str(tmp_path / "archive")])
    out, err = capsys.readouterr()
    assert code == 2
    assert out == "" and opened == []  # no banner, no URL, no browser
    assert f"port {taken} is taken" in err
    assert "PORT=" in err and "--port" in err
    assert "address already in use" in err.lower()  # tests.ports.lost_port reads this
    assert not (tmp_path / "archive").exists()  # nothing claimed either


def test_the_demo_serves_on_the_socket_it_bound():
    """``--port 0``: the system picks the port, and the URL the demo prints is that port (the
    socket is handed to uvicorn, so the port checked is the port served)."""
    args = argparse.Namespace(host="127.0.0.1", port=0)
    assert demo._bind_port(args)
    try:
        assert args.port == args.socket.getsockname()[1] != 0
        with socket.socket() as other, pytest.raises(OSError):
            other.bind(("127.0.0.1", args.port))  # held from the check until serving
    finally:
        args.socket.close()


@pytest.mark.parametrize(("given", "served"), [((), "8000"), (("PORT=8123",), "8123")])
def test_make_demo_passes_its_port(given, served):
    """``make demo PORT=8080`` is what the README tells a newcomer; without it, 8000 as before."""
    root = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if k not in ("PORT", "MAKEFLAGS")}
    done = subprocess.run(
        ["make", "-n", "--no-print-directory", "-C", str(root), "demo", *given],
        capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    commands = [line for line in done.stdout.splitlines() if line.strip()]
    assert commands[-1].endswith(f"landun demo --port {served}")  # what the target runs


def test_a_taken_jt808_port_is_one_line_not_a_traceback(tmp_path):
    """``--jt808-port`` taken: the demo stops before its URL with the port named (exit 2)."""
    root = Path(__file__).resolve().parents[2]
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "landun.cli", "demo", "--port", "0", "--no-browser",
             "--no-bench", "--jt808-port", str(taken), "--vehicles", "5", "--hours", "1",
             "--archive", str(tmp_path / "archive")],
            cwd=root, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert f"cannot take JT/T 808 port {taken}" in done.stderr and "--jt808-port" in done.stderr
    assert "Traceback" not in done.stderr and "open http" not in done.stdout
