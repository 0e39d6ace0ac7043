"""The hub and a bus that hangs (Redis accepting connections but never answering): subscribing
happens off the event loop, so the API keeps serving while the hub waits, and /readyz says the
hub is not subscribed."""

from __future__ import annotations

import asyncio
import socket
import threading

import pytest

from api.hub import Hub
from api.memory import memory_ports
from api.routes.metrics import Metrics
from stream.live.redis import RedisBus, client


class SilentServer:
    """Accepts TCP connections and never answers (a hung Redis)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.accepted = threading.Event()
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.sock.getsockname()[1]}/0"

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            self.accepted.set()

    def close(self) -> None:
        for conn in self.conns:
            conn.close()
        self.sock.close()


@pytest.mark.timeout(60)  # a blocked loop would wait on the silent server forever
def test_a_hung_bus_does_not_block_the_event_loop():
    server = SilentServer()
    ports = memory_ports()
    ports.bus = RedisBus(client(server.url), server.url, "t")
    hub = Hub(ports, Metrics())

    async def scenario() -> tuple[int, bool]:
        ticks = 0

        async def ticker():
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        task = asyncio.create_task(ticker())
        await hub.start()
        await asyncio.to_thread(server.accepted.wait, 10)  # a subscription is in flight
        before = ticks
        await asyncio.sleep(0.5)
        progressed = ticks > before  # the loop ran while the subscribe waited
        running = hub.running
        task.cancel()
        await hub.stop()
        return progressed, running

    try:
        progressed, running = asyncio.run(scenario())
    finally:
        server.close()
    assert progressed, "the event loop was blocked by a subscribe"
    assert not running  # /readyz: the hub is not subscribed
