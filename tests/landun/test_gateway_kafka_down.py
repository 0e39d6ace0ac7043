"""`landun gateway` started while Kafka is unreachable (issue 14: "Kafka unavailable → terminals
are not acknowledged (they retransmit) and /readyz says so"): the process listens, a terminal
registers and authenticates, its position gets no 0x8001, /readyz answers 503; once the broker
answers, /readyz turns 200 and the retransmitted position is acknowledged and in the topic.

The broker is "down" behind a local port nothing listens on; "up" is a forwarder that starts
listening there and pipes to the real broker (its metadata then names the real address)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading

import orjson

from gateway.messages import OK
from gateway.terminals import TerminalClient, TerminalError
from stream.kafka.producer import make_producer, publish_entry
from tests.landun.test_gateway_cli import ROOT, VEHICLE, get
from tests.stream.kafka.conftest import PARTITIONS, free_port, read_topic, wait_for

POSITION = {"ts": "2026-06-02T20:00:00+08:00", "lat": 31.5, "lng": 120.3, "acc": True}


class Forwarder:
    """TCP from ``port`` to the broker, on its own thread and loop, once :meth:`start` is called."""

    def __init__(self, port: int, bootstrap: str):
        self.port = port
        host, _, bport = bootstrap.split(",")[0].rpartition(":")
        self.target = (host or "127.0.0.1", int(bport))
        self.loop = asyncio.new_event_loop()
        self.listening = threading.Event()

    def start(self) -> None:
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        asyncio.run_coroutine_threadsafe(self._listen(), self.loop).result(10)

    async def _listen(self) -> None:
        self.server = await asyncio.start_server(self._pipe, "127.0.0.1", self.port)

    async def _pipe(self, reader, writer) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.target)

        async def copy(src, dst):
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            finally:
                dst.close()

        await asyncio.gather(copy(reader, up_writer), copy(up_reader, writer),
                             return_exceptions=True)  # fmt: skip

    def stop(self) -> None:
        if hasattr(self, "server"):
            self.loop.call_soon_threadsafe(self.server.close)
        self.loop.call_soon_threadsafe(self.loop.stop)


def test_gateway_started_with_kafka_down_refuses_acks_then_recovers(bootstrap, topics, tmp_path):
    registry = tmp_path / "registry.json"
    registry.write_bytes(orjson.dumps({"vehicles": [VEHICLE]}))
    kafka_port, port, http = free_port(), free_port(), free_port()
    cmd = [sys.executable, "-m", "landun.cli", "gateway", "--host", "127.0.0.1", "--port",
           str(port), "--http-port", str(http), "--bootstrap", f"127.0.0.1:{kafka_port}",
           "--namespace", topics.namespace, "--partitions", str(PARTITIONS),
           "--registry", str(registry)]  # fmt: skip
    log = tmp_path / "gateway.log"
    forwarder = Forwarder(kafka_port, bootstrap)
    with log.open("wb") as fh:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT,
                                env={**os.environ, "LANDUN_JT808_SECRET": "s3"})  # fmt: skip
    try:
        wait_for(lambda: get(http, "/readyz")[0] != 0 or proc.poll() is not None, 60, "probes")
        assert proc.poll() is None, log.read_text()[-2000:]
        status, body = get(http, "/readyz")
        checks = orjson.loads(body)["checks"]
        assert status == 503 and checks["kafka"] != "ok" and checks["sink"] != "ok", body

        async def down(t: TerminalClient) -> str:
            await t.connect("127.0.0.1", port)
            assert await t.register() == 0 and await t.authenticate() == OK
            try:
                return f"acknowledged: {await t.location(POSITION)}"
            except TerminalError:
                return "no ack"

        terminal = TerminalClient("13900000007", timeout_s=5)
        loop = asyncio.new_event_loop()
        assert loop.run_until_complete(down(terminal)) == "no ack"
        assert proc.poll() is None, log.read_text()[-2000:]

        forwarder.start()
        wait_for(lambda: get(http, "/readyz")[0] == 200, 60, f"readyz ({log.read_text()[-2000:]})")
        # The terminal kept its position and sends it again: acknowledged now, and in the topic.
        assert loop.run_until_complete(terminal.location(POSITION)) == OK
        loop.run_until_complete(terminal.close())
        loop.close()
        pings = [p for rec in read_topic(bootstrap, topics.pings) for p in orjson.loads(rec.value)]
        assert [(p["vehicle"], p["source"]) for p in pings] == [("M7", "jt808")]
    finally:
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(30)
        forwarder.stop()
    assert rc == 0, log.read_text()[-2000:]


def test_gateway_following_the_registry_topic_waits_for_kafka(bootstrap, topics, tmp_path):
    """Without --registry the registry topic is read once Kafka answers: until then /readyz names
    the registry too; each failed attempt closes its consumer (no "Unclosed" in the log)."""
    producer = make_producer(bootstrap)
    publish_entry(producer, topics, "registry", "vehicles/M7", VEHICLE)
    producer.close()
    kafka_port, port, http = free_port(), free_port(), free_port()
    cmd = [sys.executable, "-m", "landun.cli", "gateway", "--host", "127.0.0.1", "--port",
           str(port), "--http-port", str(http), "--bootstrap", f"127.0.0.1:{kafka_port}",
           "--namespace", topics.namespace, "--partitions", str(PARTITIONS)]  # fmt: skip
    log = tmp_path / "gateway.log"
    forwarder = Forwarder(kafka_port, bootstrap)
    with log.open("wb") as fh:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT)
    try:
        # two failed reads of the registry topic, then the broker comes up
        wait_for(lambda: log.read_text().count("registry topic unreadable") >= 2, 60, "retries")
        status, body = get(http, "/readyz")
        assert status == 503 and orjson.loads(body)["checks"]["registry"] != "ok", body
        forwarder.start()
        wait_for(lambda: get(http, "/readyz")[0] == 200, 60, f"readyz ({log.read_text()[-2000:]})")

        async def terminal() -> int:
            t = TerminalClient("13900000007", timeout_s=10)
            await t.connect("127.0.0.1", port)
            assert await t.register() == 0 and await t.authenticate() == OK
            result = await t.location(POSITION)
            await t.close()
            return result

        assert asyncio.run(terminal()) == OK
    finally:
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(30)
        forwarder.stop()
    assert rc == 0, log.read_text()[-2000:]
    assert "Unclosed AIOKafkaConsumer" not in log.read_text()
