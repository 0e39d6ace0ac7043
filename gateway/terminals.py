"""A JT/T 808 terminal over a real socket: for tests, ``landun sim-terminals`` and the benchmark.

:class:`TerminalClient` speaks as a vehicle terminal does: registers (0x0100), authenticates
(0x0102), reports positions (0x0200, 0x0704 batches; type 1 for a blind-area re-send),
heartbeats (0x0002) and logs out (0x0003), each call returning the platform's result once its
reply (0x8100 or 0x8001 echoing the request's serial) has come. Positions are given as the
engine's ping dicts (docs/formats.md), so a simulated fleet drives it directly; lift and cover
go out as the items of :data:`SIM_VENDOR` (an illustrative vendor profile, not a standard).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from gateway.encoders import authentication_body, encode_frame, registration_body
from gateway.errors import CodecError
from gateway.frame import FrameSplitter
from gateway.header import V2013, V2019
from gateway.location import Location, encode, encode_batch
from gateway.messages import (
    AUTHENTICATE,
    BATCH,
    GENERAL_RESPONSE,
    HEARTBEAT,
    LOCATION,
    LOGOUT,
    REGISTER,
    REGISTER_RESPONSE,
    decode_frame,
)
from stream.eventtime import parse_ts

SIM_MANUFACTURER = "LDSIM"
# The simulated terminals' lift and cover items, as a vendor table document
# (gateway.vendors.table_from_dict; `landun gateway --vendors FILE`).
SIM_VENDOR = {
    "profiles": [
        {
            "name": "landun-sim",
            "manufacturers": [SIM_MANUFACTURER],
            "items": {
                "0xF1": {"name": "lift_state", "size": 1, "kind": "code", "field": "lift",
                         "true": [2]},
                "0xF2": {"name": "box_state", "size": 1, "kind": "code", "field": "cover_open",
                         "true": [2]},
            },
        }
    ]
}  # fmt: skip
_LOAD_BITS = {"empty": 0b00, "half": 0b01, "full": 0b11}
_ACC, _FIXED = 1, 2


class TerminalError(RuntimeError):
    """The platform closed the connection or did not answer in time."""


def location_of(ping: dict[str, Any]) -> Location:
    """The 0x0200 position of a ping dict (its datum as written: a GCJ-02 terminal sends GCJ-02)."""
    status = _FIXED | (_ACC if ping.get("acc") else 0)
    if "loaded" in ping:
        # No reading (null): 10, the reserved value, which says nothing of the load.
        status |= _LOAD_BITS.get(ping["loaded"], 0b10) << 8
    items: dict[int, bytes] = {}
    if "lift" in ping:
        items[0xF1] = bytes((2 if ping["lift"] else 1,))
    if "cover_open" in ping:
        items[0xF2] = bytes((2 if ping["cover_open"] else 1,))
    heading = ping.get("heading")
    return Location(
        alarm=0,
        status=status,
        lat=float(ping["lat"]),
        lng=float(ping["lng"]),
        altitude_m=0,
        speed_kmh=float(ping.get("speed_kmh") or 0.0),
        heading=int(heading) % 360 if heading is not None else 0,
        time_ms=parse_ts(ping["ts"]),
        items=items,
    )


class TerminalClient:
    """One terminal's connection to a gateway.

    Parameters
    ----------
    phone : str
        Its phone number (the registry's ``terminal_phone``).
    version : str
        ``"2013"`` or ``"2019"`` (header layout, registration and authentication bodies).
    timeout_s : float
        Longest wait for a reply.
    """

    def __init__(self, phone: str, version: str = V2013, timeout_s: float = 30.0):
        self.phone = phone
        self.version = version
        self.timeout_s = timeout_s
        self.auth_code: str | None = None
        self._serial = 0
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._waiting: dict[int, asyncio.Future] = {}
        self._pump: asyncio.Task | None = None
        self.pushed: list = []  # platform messages that answer nothing of ours (0x8003...)

    async def connect(self, host: str, port: int) -> None:
        """Open the connection (and start reading replies)."""
        self._reader, self._writer = await asyncio.open_connection(host, port)
        self._pump = asyncio.create_task(self._read())

    async def close(self) -> None:
        """Close the connection without logging out (a terminal losing coverage)."""
        if self._pump is not None:
            self._pump.cancel()
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await self._writer.wait_closed()
        self._writer = None

    async def send_raw(self, data: bytes) -> None:
        """Write bytes as they are (tests of malformed input)."""
        self._writer.write(data)
        await self._writer.drain()

    async def request(self, msg_id: int, body: bytes = b"") -> dict[str, Any]:
        """Send one message; the fields of the platform's reply to it."""
        serial = self._serial
        self._serial = (serial + 1) & 0xFFFF
        fut = asyncio.get_running_loop().create_future()
        self._waiting[serial] = fut
        frame = encode_frame(msg_id, self.phone, serial, body, self.version)
        try:
            await self.send_raw(frame)
            return await asyncio.wait_for(fut, self.timeout_s)
        except TimeoutError:
            raise TerminalError(f"no reply to 0x{msg_id:04X} serial {serial}") from None
        finally:
            self._waiting.pop(serial, None)

    async def register(self, plate: str = "", manufacturer: str = SIM_MANUFACTURER) -> int:
        """0x0100; returns the 0x8100 result (keeps the auth code when 0)."""
        layout = "2019" if self.version == V2019 else "2013"
        body = registration_body(32, 200, manufacturer, "LD-T1", self.phone[-7:], 2, plate, layout)
        reply = await self.request(REGISTER, body)
        if reply.get("result") == 0:
            self.auth_code = reply.get("auth_code")
        return reply["result"]

    async def authenticate(self, code: str | None = None) -> int:
        """0x0102 with ``code`` (default: the one registration gave); the 0x8001 result."""
        body = authentication_body(code or self.auth_code or "", self.version, "86", "1.0")
        return (await self.request(AUTHENTICATE, body))["result"]

    async def location(self, ping: dict[str, Any]) -> int:
        """0x0200 of a ping dict; the 0x8001 result."""
        return (await self.request(LOCATION, encode(location_of(ping))))["result"]

    async def batch(self, pings: list[dict[str, Any]], blind_area: bool = True) -> int:
        """0x0704 of ping dicts (type 1, blind-area re-send, by default); the 0x8001 result."""
        body = encode_batch([location_of(p) for p in pings], 1 if blind_area else 0)
        return (await self.request(BATCH, body))["result"]

    async def heartbeat(self) -> int:
        """0x0002; the 0x8001 result."""
        return (await self.request(HEARTBEAT))["result"]

    async def logout(self) -> int:
        """0x0003; the 0x8001 result (the platform then closes the connection)."""
        return (await self.request(LOGOUT))["result"]

    async def _read(self) -> None:
        splitter = FrameSplitter()
        try:
            while chunk := await self._reader.read(65536):
                for raw in splitter.feed(chunk):
                    if isinstance(raw, CodecError):
                        continue
                    self._deliver(raw)
        except (ConnectionError, OSError):
            pass
        for fut in self._waiting.values():
            if not fut.done():
                fut.set_exception(TerminalError("the platform closed the connection"))

    def _deliver(self, raw: bytes) -> None:
        try:
            msg = decode_frame(raw)
        except CodecError:
            return
        if msg.header.msg_id in (GENERAL_RESPONSE, REGISTER_RESPONSE):
            fut = self._waiting.get(msg.fields.get("ack_serial"))
            if fut is not None and not fut.done():
                fut.set_result(msg.fields)
                return
        self.pushed.append(msg)
