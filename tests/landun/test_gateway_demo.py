"""`landun demo --jt808-port`: a terminal's positions reach the demo's engine (issue 14)."""

from __future__ import annotations

import asyncio

from api.app import create_app
from api.settings import Settings
from gateway.messages import OK, REG_NO_TERMINAL
from gateway.terminals import TerminalClient
from landun import embedded
from landun.cli import build_parser
from landun.commands.gateway import EmbeddedGateway

START = "2025-06-02T18:00:00+08:00"


def test_demo_takes_the_flag():
    args = build_parser().parse_args(["demo", "--jt808-port", "6808"])
    assert args.jt808_port == 6808
    assert build_parser().parse_args(["demo"]).jt808_port is None


def test_a_terminal_drives_the_embedded_engine(monkeypatch):
    app = create_app(Settings(demo=True))
    stepped: list[dict] = []
    real_step = embedded.step

    def step(night, batch, feed):
        stepped.extend(batch)
        return real_step(night, batch, feed)

    monkeypatch.setattr(embedded, "step", step)

    async def main():
        gw = EmbeddedGateway(b"k")
        port = await gw.start("127.0.0.1", 0)
        night = asyncio.create_task(
            embedded.run(app.state.feed, 4, 0.25, 3, START, 120.0, nights=1, jt808=gw)
        )
        while not len(gw.directory):  # the night's registry arrives with the night
            await asyncio.sleep(0.05)
        t = TerminalClient("013900000002", timeout_s=5)
        await t.connect("127.0.0.1", port)
        assert await t.register() == 0 and await t.authenticate() == OK
        pos = {"ts": "2025-06-02T18:03:00+08:00", "lat": 31.55, "lng": 120.31, "acc": True,
               "speed_kmh": 12.0, "heading": 45}  # fmt: skip
        assert await t.location(pos) == OK
        stranger = TerminalClient("013999999999", timeout_s=5)
        await stranger.connect("127.0.0.1", port)
        assert await stranger.register() == REG_NO_TERMINAL
        await night
        await t.close()
        await stranger.close()
        await gw.server.close()

    asyncio.run(main())
    # (the simulated fleet's own pings say jt808 too, and carry the night's receive times)
    mine = [p for p in stepped if p["vehicle"] == "V0002" and "received" not in p]
    assert [(p["lat"], p["lng"], p["source"], p["seq"]) for p in mine] == [
        (31.55, 120.31, "jt808", 2)
    ]
