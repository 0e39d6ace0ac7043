"""`landun gateway` as a process on the real broker: the registry from its topic, a terminal's
position in the pings topic, the probes, a clean stop; bad files refused (issue 14)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import orjson
import pytest

from gateway.messages import OK, REG_NO_TERMINAL
from gateway.terminals import TerminalClient
from landun.cli import main as landun
from stream.kafka.producer import make_producer, publish_entry
from tests.ports import lost_port
from tests.stream.kafka.conftest import PARTITIONS, free_port, read_topic, wait_for

ROOT = Path(__file__).resolve().parents[2]
VEHICLE = {"id": "M7", "kind": "muck", "terminal_phone": "013900000007", "load_sensor": False}


def get(port: int, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except OSError:
        return 0, b""


class GatewayProcess:
    """`landun gateway` on ports chosen free; started again on new ones when a port was taken
    between choosing and binding (issue 15, tests/ports.py)."""

    def __init__(self, bootstrap, topics, log):
        self.bootstrap, self.topics, self.log = bootstrap, topics, log
        self.start()

    def start(self):
        self.port, self.http = free_port(), free_port()
        cmd = [sys.executable, "-m", "landun.cli", "gateway", "--host", "127.0.0.1", "--port",
               str(self.port), "--http-port", str(self.http), "--bootstrap", self.bootstrap,
               "--namespace", self.topics.namespace, "--partitions", str(PARTITIONS)]  # fmt: skip
        env = {**os.environ, "LANDUN_JT808_SECRET": "s3"}
        with self.log.open("wb") as fh:
            self.proc = subprocess.Popen(
                cmd, cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT, env=env
            )

    def ready(self) -> bool:
        if lost_port(self.proc, self.log):
            self.start()
            return False
        assert self.proc.poll() is None, f"gateway exited: {self.log.read_text()[-2000:]}"
        return get(self.http, "/readyz")[0] == 200


def test_gateway_process_registry_topic_to_pings_topic(bootstrap, topics, tmp_path):
    producer = make_producer(bootstrap)
    publish_entry(producer, topics, "registry", "vehicles/M7", VEHICLE)
    producer.close()
    gateway = GatewayProcess(bootstrap, topics, tmp_path / "gateway.log")
    log = gateway.log
    try:
        wait_for(gateway.ready, 60, "the gateway's readyz")
        port, http = gateway.port, gateway.http
        assert orjson.loads(get(http, "/readyz")[1])["checks"] == {
            "sink": "ok", "kafka": "ok", "registry": "ok"
        }  # fmt: skip

        async def terminal():
            t = TerminalClient("13900000007", timeout_s=10)
            await t.connect("127.0.0.1", port)
            assert await t.register() == 0 and await t.authenticate() == OK
            pos = {"ts": "2026-06-02T20:00:00+08:00", "lat": 31.5, "lng": 120.3, "acc": True,
                   "loaded": "full"}  # fmt: skip
            assert await t.location(pos) == OK
            await t.close()
            stranger = TerminalClient("13900000008", timeout_s=10)
            await stranger.connect("127.0.0.1", port)
            assert await stranger.register() == REG_NO_TERMINAL
            await stranger.close()

        asyncio.run(terminal())
        (rec,) = read_topic(bootstrap, topics.pings)
        (ping,) = orjson.loads(rec.value)
        assert ping["vehicle"] == "M7" and ping["source"] == "jt808" and "loaded" not in ping
        status, metrics = get(http, "/metrics")
        assert b"landun_gateway_pings_total 1" in metrics
        assert b'landun_gateway_messages_total{msg_id="0x0100"} 2' in metrics
    finally:
        gateway.proc.send_signal(signal.SIGTERM)
        rc = gateway.proc.wait(30)
    assert rc == 0, log.read_text()[-2000:]


def test_a_bad_registry_file_is_refused(tmp_path, capsys):
    bad = tmp_path / "registry.json"
    bad.write_text('{"vehicles": [{"id": "V1", "kind": "tank"}]}')
    started = time.monotonic()
    assert landun(["gateway", "--registry", str(bad), "--bootstrap", "127.0.0.1:1"]) == 2
    assert "kind" in capsys.readouterr().err
    assert time.monotonic() - started < 30  # refused before any Kafka connection is tried


@pytest.mark.parametrize("content", ["not json", '{"profiles": [{"name": 1}]}'])
def test_a_bad_vendor_file_is_refused(tmp_path, capsys, content):
    bad = tmp_path / "vendors.json"
    bad.write_text(content)
    assert landun(["gateway", "--vendors", str(bad), "--bootstrap", "127.0.0.1:1"]) == 2
    assert capsys.readouterr().err.startswith("landun gateway:")
