"""Additional items of a 0x0200 location (ID BYTE, LEN BYTE, VALUE) and vendor item tables.

The decoder (:mod:`gateway.location`) keeps every item raw, by id, in arrival order; naming and
scaling happen here, only when asked (a field engineer's JSON, a ping's lift and cover), so the
gateway's hot path pays nothing for items nobody reads (issue 14).

Standard items (JT/T 808-2013/2019, PROTOCOL.md 1.4) are named for every terminal. Muck-truck
items (tipper lift 举升, cover 密闭, weight) are not standard: each city or vendor puts them in
its own ids. A :class:`VendorProfile` declares them, and a :class:`VendorTable` keys profiles by
the manufacturer id a terminal gave in its 0x0100 registration, so a city's standard is added
as data, without touching the decoder.
"""

from __future__ import annotations

import contextlib
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")

# Bits of item 0x25 (extended vehicle signals), lowest first.
SIGNAL_BITS = (
    "low_beam", "high_beam", "right_turn", "left_turn", "brake", "reverse", "fog_lamp",
    "clearance_lamp", "horn", "air_conditioning", "neutral", "retarder", "abs", "heater", "clutch",
)  # fmt: skip
AREA_TYPES = ("none", "circle", "rectangle", "polygon", "route_segment")


def _uint(raw: bytes) -> int:
    return int.from_bytes(raw, "big")


def _tenths(raw: bytes) -> float:
    return _uint(raw) / 10


def _carriage_temp(raw: bytes) -> int:
    value = _uint(raw)
    return -(value & 0x7FFF) if value & 0x8000 else value  # sign in the MSB, not two's complement


def _signals(raw: bytes) -> dict[str, bool]:
    bits = _uint(raw)
    return {name: bool(bits >> i & 1) for i, name in enumerate(SIGNAL_BITS)}


def _io(raw: bytes) -> dict[str, bool]:
    bits = _uint(raw)
    return {"deep_sleep": bool(bits & 1), "sleep": bool(bits & 2)}


def _analog(raw: bytes) -> dict[str, int]:
    value = _uint(raw)
    return {"ad0": value & 0xFFFF, "ad1": value >> 16}


def _area(raw: bytes) -> dict[str, Any]:
    kind = raw[0]
    out: dict[str, Any] = {"type": AREA_TYPES[kind] if kind < len(AREA_TYPES) else kind}
    if len(raw) >= 5:
        out["id"] = _U32.unpack_from(raw, 1)[0]
    if len(raw) >= 6:
        out["direction"] = "out" if raw[5] else "in"
    return out


def _segment_time(raw: bytes) -> dict[str, Any]:
    seg, secs = _U32.unpack_from(raw)[0], _U16.unpack_from(raw, 4)[0]
    return {"segment": seg, "seconds": secs, "result": "too_long" if raw[6] else "too_short"}


def _tyres(raw: bytes) -> list[int | None]:
    return [None if b == 0xFF else b for b in raw]


@dataclass(frozen=True, slots=True)
class ItemSpec:
    """How one additional item reads.

    Attributes
    ----------
    name : str
        The key in ``extras``.
    decode : callable
        Raw value bytes to a JSON-able value.
    sizes : tuple of int
        The lengths the item may have; another length keeps the item raw (never an error).
    """

    name: str
    decode: Callable[[bytes], Any]
    sizes: tuple[int, ...]


STANDARD_ITEMS: dict[int, ItemSpec] = {
    0x01: ItemSpec("mileage_km", _tenths, (4,)),
    0x02: ItemSpec("fuel_l", _tenths, (2,)),
    0x03: ItemSpec("tacho_speed_kmh", _tenths, (2,)),
    0x04: ItemSpec("alarm_event_id", _uint, (2,)),
    0x05: ItemSpec("tyre_pressure_pa", _tyres, (30,)),
    0x06: ItemSpec("carriage_temp_c", _carriage_temp, (2,)),
    0x11: ItemSpec("overspeed_area", _area, (1, 5)),
    0x12: ItemSpec("area_transition", _area, (6,)),
    0x13: ItemSpec("segment_time", _segment_time, (7,)),
    0x25: ItemSpec("signals", _signals, (4,)),
    0x2A: ItemSpec("io", _io, (2,)),
    0x2B: ItemSpec("analog", _analog, (4,)),
    0x30: ItemSpec("signal_strength", _uint, (1,)),
    0x31: ItemSpec("satellites", _uint, (1,)),
}


# --- vendor and city items -------------------------------------------------------------------


def flag_bits(**bits: int) -> Callable[[bytes], dict[str, bool]]:
    """A decoder of named flags at bit positions of an unsigned big-endian value.

    >>> flag_bits(cover_open=0, lift=1)(bytes([0b10]))
    {'cover_open': False, 'lift': True}
    """

    def decode(raw: bytes) -> dict[str, bool]:
        value = _uint(raw)
        return {name: bool(value >> bit & 1) for name, bit in bits.items()}

    return decode


def code_flag(name: str, true_codes: tuple[int, ...]) -> Callable[[bytes], dict[str, bool]]:
    """A decoder of a one-byte state code into one flag (e.g. lift: 1 flat, 2 raised).

    >>> code_flag("lift", (2,))(bytes([2]))
    {'lift': True}
    """

    def decode(raw: bytes) -> dict[str, bool]:
        return {name: _uint(raw) in true_codes}

    return decode


def scaled(name: str, scale: float) -> Callable[[bytes], dict[str, float]]:
    """A decoder of an unsigned big-endian value times ``scale`` (e.g. weight in 10 kg units).

    >>> scaled("weight_t", 0.01)(bytes([0x03, 0xE8]))
    {'weight_t': 10.0}
    """

    def decode(raw: bytes) -> dict[str, float]:
        return {name: round(_uint(raw) * scale, 9)}

    return decode


@dataclass(frozen=True, slots=True)
class VendorProfile:
    """The non-standard items of one manufacturer's (or one city standard's) terminals.

    Attributes
    ----------
    name : str
        Shown in ``extras`` keys and logs.
    items : mapping of int to ItemSpec
        Item id to spec; each decoder returns a dict of fields. The fields ``lift`` and
        ``cover_open`` (bool) go into pings (docs/formats.md); every field shows in ``extras``.
    """

    name: str
    items: Mapping[int, ItemSpec] = field(default_factory=dict)


# An illustration found in public terminal firmware (PROTOCOL.md 1.6, "Shenzhen E-EYE ... 九通
# 渣土车"): 0xE4 LEN 4, bit 0 cover open outside a permitted area, bit 1 body lifted outside a
# permitted area. It is no standard: a deployment registers its city's profile instead.
EEYE_MUCK = VendorProfile(
    "eeye_muck_2013",
    {
        0xE3: ItemSpec("dump_cycle", lambda raw: {"dump_abnormal": bool(raw[0])}, (13,)),
        0xE4: ItemSpec("muck_alarms", flag_bits(cover_open=0, lift=1), (4,)),
    },
)


class VendorTable:
    """Vendor profiles keyed by manufacturer id (the 0x0100 field, padding trimmed).

    >>> table = VendorTable()
    >>> box = ItemSpec("box", flag_bits(lift=0), (1,))
    >>> table.register("70111", VendorProfile("city", {0xE5: box}))
    >>> table.get("70111").name
    'city'
    >>> table.get("nobody") is None
    True
    """

    def __init__(self, profiles: Mapping[str, VendorProfile] | None = None):
        self._profiles: dict[str, VendorProfile] = dict(profiles or {})

    def register(self, manufacturer: str, profile: VendorProfile) -> None:
        """Use ``profile`` for terminals of ``manufacturer`` (replacing any earlier one)."""
        self._profiles[manufacturer.strip()] = profile

    def get(self, manufacturer: str | None) -> VendorProfile | None:
        """The profile of ``manufacturer``, or None."""
        return None if manufacturer is None else self._profiles.get(manufacturer.strip())


def named_extras(items: Mapping[int, bytes], vendor: VendorProfile | None = None) -> dict[str, Any]:
    """Every item by key: ``"0x01"`` etc. to ``{"name", "value"}`` where known, else ``{"raw"}``.

    A known id with an unexpected length, or whose decoder fails, is kept raw too: an item never
    makes a position fail (PROTOCOL.md 1.4, TLV rules).
    """
    out: dict[str, Any] = {}
    for item_id, raw in items.items():
        spec = vendor.items.get(item_id) if vendor is not None else None
        spec = spec or STANDARD_ITEMS.get(item_id)
        entry: dict[str, Any] = {"raw": raw.hex()}
        if spec is not None and len(raw) in spec.sizes:
            with contextlib.suppress(ValueError, IndexError, struct.error):
                entry = {"name": spec.name, "value": spec.decode(raw), "raw": raw.hex()}
        out[f"0x{item_id:02X}"] = entry
    return out


def vendor_fields(items: Mapping[int, bytes], vendor: VendorProfile | None) -> dict[str, Any]:
    """The fields a vendor profile reads from ``items`` (lift, cover_open, weight...), merged."""
    if vendor is None:
        return {}
    out: dict[str, Any] = {}
    for item_id, spec in vendor.items.items():
        raw = items.get(item_id)
        if raw is None or len(raw) not in spec.sizes:
            continue
        try:
            value = spec.decode(raw)
        except (ValueError, IndexError, struct.error):
            continue
        if isinstance(value, dict):
            out.update(value)
    return out
