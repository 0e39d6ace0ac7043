"""The Kafka sink's contract, on a stand-in producer whose acknowledgements the test gives:
a terminal hears 0x8001 for its positions only after Kafka acknowledged the records holding
them; a failed record means no acknowledgement and /readyz says why (issue 14)."""

from __future__ import annotations

import asyncio

import orjson
import pytest
from kafka.errors import KafkaTimeoutError
from kafka.future import Future

from gateway.directory import Directory
from gateway.messages import OK
from gateway.server import GatewayServer
from gateway.sink import KafkaSink
from gateway.terminals import TerminalClient, TerminalError
from stream.kafka.topics import Topics, partition_for

REGISTRY = {
    "vehicles": [
        {"id": f"M{i:03d}", "kind": "muck", "terminal_phone": f"0139000000{i:02d}"}
        for i in range(1, 9)
    ]
}
PING = {"ts": "2026-06-02T20:00:00+08:00", "lat": 31.5, "lng": 120.3, "speed_kmh": 20.0,
        "heading": 10, "acc": True}  # fmt: skip


class HeldProducer:
    """Records sends; their futures resolve when the test says so."""

    def __init__(self):
        self.sent: list[tuple[int, bytes, Future]] = []

    def send(self, topic, key=None, value=None, partition=None, timestamp_ms=None, **kw):
        fut = Future()
        self.sent.append((partition, value, fut))
        return fut

    def flush(self, timeout=None):
        pass

    def settle(self, error: Exception | None = None):
        for _, _, fut in self.sent:
            if not fut.is_done:
                fut.failure(error) if error else fut.success(None)


async def until(check, what: str, timeout_s: float = 10.0) -> None:
    """Wait for ``check()`` (issue 15: a condition, not a sleep that a slow machine outruns)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not check():
        if loop.time() > deadline:
            pytest.fail(f"timed out after {timeout_s:.0f}s waiting for {what}")
        await asyncio.sleep(0.01)


def pings_sent(producer: HeldProducer) -> int:
    return sum(len(orjson.loads(value)) for _, value, _ in producer.sent)


def run(test):
    async def main():
        producer = HeldProducer()
        sink = KafkaSink(producer, Topics("t"), 4, linger_s=0.005, timeout_s=3)
        server = GatewayServer(Directory.from_mapping(REGISTRY), sink, secret=b"s")
        port = await server.start()
        try:
            await asyncio.wait_for(test(server, port, producer), 30)
        finally:
            await server.close()

    asyncio.run(main())


async def online(port, phone):
    t = TerminalClient(phone, timeout_s=2)
    await t.connect("127.0.0.1", port)
    assert await t.register() == 0 and await t.authenticate() == OK
    return t


def test_ack_waits_for_kafka_and_pings_share_records_per_partition():
    async def test(server, port, producer):
        terminals = [await online(port, f"0139000000{i:02d}") for i in range(1, 9)]
        sending = [asyncio.create_task(t.location(PING)) for t in terminals]
        await until(lambda: pings_sent(producer) == 8, "the 8 positions to be sent")
        await asyncio.sleep(0.05)  # a wrong early ack would reach the terminal meanwhile
        assert not any(s.done() for s in sending)  # Kafka has not acknowledged yet
        assert producer.sent  # ...but the records are out
        parts = [p for p, _, _ in producer.sent]
        assert len(parts) == len(set(parts))  # one record per partition for the round
        pings = [p for _, value, _ in producer.sent for p in orjson.loads(value)]
        assert sorted(p["vehicle"] for p in pings) == [f"M{i:03d}" for i in range(1, 9)]
        for _, value, _ in producer.sent:
            (p0, *rest) = orjson.loads(value)
            assert {partition_for(p["vehicle"], 4) for p in [p0, *rest]} == {
                partition_for(p0["vehicle"], 4)
            }
        producer.settle()
        assert await asyncio.gather(*sending) == [OK] * 8
        assert server.checks()["sink"] == "ok"
        for t in terminals:
            await t.close()

    run(test)


def test_failed_record_means_no_ack_and_not_ready_until_a_round_succeeds():
    async def test(server, port, producer):
        t = await online(port, "013900000001")
        sending = asyncio.create_task(t.location(PING))
        await until(lambda: pings_sent(producer) == 1, "the position to be sent")
        producer.settle(KafkaTimeoutError("broker gone"))
        with pytest.raises(TerminalError):
            await sending
        assert "broker gone" in server.checks()["sink"]
        assert server.stats.c["pings_unacknowledged"] == 1
        retry = asyncio.create_task(t.location(PING))  # the terminal sends it again
        await until(lambda: pings_sent(producer) == 2, "the position to be sent again")
        producer.settle()
        assert await retry == OK
        assert server.checks()["sink"] == "ok"
        await t.close()

    run(test)
