"""The websocket bench's clients: district map viewers and alert receivers (``bench.ws``).

Each records what it received with the receipt time; ``bench.ws_account`` compares that with
what the generator produced. ``stop`` is a one-element list holding the epoch second at which
the client closes (the phase moves it).
"""

from __future__ import annotations

import asyncio
import time

import orjson
from websockets.asyncio.client import connect

from stream.eventtime import parse_ts


def _ws_url(base: str, path: str) -> str:
    return base.replace("http", "ws", 1) + path


async def map_client(base: str, token: str, bbox, stop: list, receipts: list | None) -> None:
    """Watch ``bbox`` on ``/ws/live`` until ``stop[0]``; with ``receipts``, append
    (vehicle, ts ms, receipt ms) for every position of a snapshot or positions frame."""
    protocols = ["landun.v1", f"auth.{token}"]
    async with connect(_ws_url(base, "/ws/live"), subprotocols=protocols, max_size=None) as ws:
        await ws.send(orjson.dumps({"type": "viewport", "bbox": list(bbox), "zoom": 13}).decode())
        while time.time() < stop[0]:
            try:
                raw = await asyncio.wait_for(ws.recv(), 0.5)
            except TimeoutError:
                continue
            if receipts is None:
                continue  # a load client: receive, don't parse (the bench's CPU is scarce)
            now = time.time() * 1000
            frame = orjson.loads(raw)
            if frame["type"] in ("positions", "snapshot"):
                receipts.extend((p["vehicle"], parse_ts(p["ts"]), now) for p in frame["items"])


async def alert_client(
    base: str, token: str, prefix: str, count: int, stop: list, received: dict
) -> int:
    """Receive alerts whose id starts with ``prefix`` into ``received`` (id -> receipt ms)
    until ``count`` arrived or ``stop[0]``; returns the reconnects (a client closed with 1013
    resumes with ``?after=`` like the page)."""
    last, reconnects = None, 0
    protocols = ["landun.v1", f"auth.{token}"]

    def note(alert: dict, now: float) -> None:
        if alert["id"].startswith(prefix):
            received.setdefault(alert["id"], now)

    while time.time() < stop[0] and len(received) < count:
        query = f"?after={last}" if last is not None else ""
        try:
            url = _ws_url(base, "/ws/alerts" + query)
            async with connect(url, subprotocols=protocols, max_size=None) as ws:
                while time.time() < stop[0] and len(received) < count:
                    try:
                        raw = await asyncio.wait_for(ws.recv(), 0.5)
                    except TimeoutError:
                        continue
                    now = time.time() * 1000
                    frame = orjson.loads(raw)
                    if frame["type"] in ("snapshot", "resync"):
                        last = max(last or 0, frame["seq"])
                        for alert in frame["alerts"]:
                            note(alert, now)
                        continue
                    for event in frame["events"] if frame["type"] == "batch" else [frame]:
                        if "seq" in event:
                            last = max(last or 0, event["seq"])
                        if "alert" in event:
                            note(event["alert"], now)
        except Exception:  # noqa: BLE001 - closed (1013) or refused: resume from the last seq
            reconnects += 1
            await asyncio.sleep(0.1)
    return reconnects
