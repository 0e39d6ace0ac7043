"""A decoded position as the engine's ping (docs/formats.md pings.jsonl), issue 14.

Which vehicle a terminal is, whether it has a load sensor, which datum it reports and which
vendor profile reads its items are the registry's knowledge: the server looks them up by
``terminal_phone`` and passes them in a :class:`Terminal`. This module only maps fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gateway.errors import CodecError
from gateway.items import VendorProfile, vendor_fields
from gateway.location import Location
from geofence.datum import gcj02_to_wgs84_point

SOURCE = "jt808"
# Status bits 8-9 as the ping's `loaded`; 0b10 is reserved and says nothing.
_LOADED = {0b00: "empty", 0b01: "half", 0b11: "full"}
_ACC = 1
_COORDS_ENCRYPTED = 1 << 5


@dataclass(frozen=True, slots=True)
class Terminal:
    """What the registry knows of one terminal that the mapping needs.

    Attributes
    ----------
    vehicle : str
        The registry's vehicle id.
    gcj02 : bool
        The terminal reports GCJ-02 (some aftermarket units do): converted to WGS-84 here.
    load_sensor : bool
        Status bits 8-9 come from a load sensor. False: ``loaded`` is left out (00 would
        otherwise say "empty" for every truck without a sensor).
    vendor : VendorProfile or None
        Reads lift/cover (and other) fields from the terminal's non-standard items.
    lenient : bool
        Accept the real-world quirks of docs/jt808.md for this terminal's frames.
    """

    vehicle: str
    gcj02: bool = False
    load_sensor: bool = True
    vendor: VendorProfile | None = None
    lenient: bool = False


def to_ping(
    loc: Location, terminal: Terminal, seq: int, received: int, backfill: bool = False
) -> dict[str, Any]:
    """The ping dict of ``loc`` for ``terminal``.

    Parameters
    ----------
    seq : int
        The frame's message serial.
    received : int
        When the gateway read the frame, epoch ms.
    backfill : bool
        A 0x0704 type 1 (blind-area) position.

    Raises
    ------
    CodecError
        ``bad_time`` when the position has no valid fix time (a ping needs ``ts``);
        ``bad_coordinate`` when status bit 5 says the coordinates are encrypted.
    """
    if loc.time_ms is None:
        raise CodecError("bad_time", f"position time {loc.time_raw.hex()} is no date")
    if loc.status & _COORDS_ENCRYPTED:
        # A secrecy plug-in scrambled the coordinates: no engine rule may see them as a place.
        raise CodecError("bad_coordinate", "coordinates encrypted (status bit 5)")
    lng, lat = loc.lng, loc.lat
    if terminal.gcj02:
        lng, lat = gcj02_to_wgs84_point(lng, lat)
    status = loc.status
    ping: dict[str, Any] = {
        "vehicle": terminal.vehicle,
        "ts": loc.time_ms,
        "lat": lat,
        "lng": lng,
        "speed_kmh": loc.speed_kmh,
        "heading": loc.heading,
        "acc": bool(status & _ACC),
    }
    if terminal.load_sensor:
        loaded = _LOADED.get((status >> 8) & 3)
        if loaded is not None:
            ping["loaded"] = loaded
    if terminal.vendor is not None:
        extra = vendor_fields(loc.items, terminal.vendor)
        for name in ("lift", "cover_open"):
            if isinstance(extra.get(name), bool):
                ping[name] = extra[name]
    if backfill:
        ping["backfill"] = True
    ping["source"] = SOURCE
    ping["seq"] = seq
    ping["received"] = received
    return ping
