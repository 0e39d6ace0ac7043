"""0x0200 location report bodies and 0x0704 batches (issue 14).

A 0x0200 body is 28 bytes of basic information (alarm DWORD, status DWORD, latitude DWORD,
longitude DWORD, altitude WORD, speed WORD in 1/10 km/h, direction WORD, BCD[6] time in GMT+8)
followed by additional items (ID BYTE, LEN BYTE, VALUE). Latitude and longitude are magnitudes
in 1e-6 degrees; their signs are status bits 2 (south) and 3 (west). A 0x0704 body is count
WORD, type BYTE (0 normal, 1 blind-area re-send), then count x (length WORD, 0x0200 body).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from gateway.bcd import encode_time, time_ms
from gateway.errors import CodecError

_BASIC = struct.Struct(">IIIIhHH6s")
_U16 = struct.Struct(">H")
_BATCH_HEAD = struct.Struct(">HB")
BASIC_LEN = _BASIC.size  # 28

SOUTH_BIT, WEST_BIT = 1 << 2, 1 << 3
NORMAL_BATCH, BLIND_AREA = 0, 1

# Status bits (DWORD), 2013 meanings plus the 2019 additions; load state is bits 8-9 as one value.
STATUS_FLAGS = {
    0: "acc", 1: "fixed", 2: "south", 3: "west", 4: "out_of_service", 5: "coords_encrypted",
    6: "forward_collision_warning", 7: "lane_departure_warning", 10: "fuel_cut",
    11: "circuit_cut", 12: "doors_locked", 13: "door1_open", 14: "door2_open", 15: "door3_open",
    16: "door4_open", 17: "door5_open", 18: "gps", 19: "beidou", 20: "glonass", 21: "galileo",
    22: "moving",
}  # fmt: skip
LOAD_STATES = {0b00: "empty", 0b01: "half", 0b10: "reserved", 0b11: "full"}

# Alarm bits (DWORD) as 2013 names them; ALARMS_2019 lists where 2019 differs.
ALARMS_2013 = (
    "emergency", "overspeed", "fatigue", "danger_warning", "gnss_fault", "gnss_antenna_cut",
    "gnss_antenna_short", "power_low", "power_off", "lcd_fault", "tts_fault", "camera_fault",
    "ic_card_fault", "overspeed_warning", "fatigue_warning", "reserved_15", "reserved_16",
    "reserved_17", "driving_overtime", "parking_overtime", "area_in_out", "route_in_out",
    "segment_time", "route_deviation", "vss_fault", "fuel_abnormal", "stolen",
    "illegal_ignition", "illegal_displacement", "collision_warning", "rollover_warning",
    "illegal_door_open",
)  # fmt: skip
_ALARMS_2019_CHANGES = {
    3: "dangerous_driving", 15: "illegal_driving", 16: "tyre_pressure_warning",
    17: "right_turn_blind_zone", 29: "collision_rollover", 31: "reserved_31",
}  # fmt: skip
ALARMS_2019 = tuple(_ALARMS_2019_CHANGES.get(i, name) for i, name in enumerate(ALARMS_2013))


@dataclass(slots=True)
class Location:
    """One decoded position (a 0x0200 body or one item of a 0x0704 batch).

    Attributes
    ----------
    alarm, status : int
        The alarm and status DWORDs as sent.
    lat, lng : float
        Degrees, signed by status bits 2 and 3 (the terminal's datum, usually WGS-84).
    altitude_m : int
        Metres; read as a signed WORD so a fix a few metres below sea level is not 65,533 m.
    speed_kmh : float
        km/h (the wire's 1/10 km/h).
    heading : int
        Degrees clockwise from north.
    time_ms : int or None
        The fix time, epoch ms UTC (the wire is GMT+8); None when the BCD is no date.
    time_raw : bytes
        The BCD time as sent.
    items : dict of int to bytes
        Additional items by id, raw, in arrival order (:func:`gateway.items.named_extras`).
    tail : bytes
        Bytes after the last whole item when an item's length ran past the body.
    warnings : list of str
        ``bad_time``, ``truncated_item``, ``signed_coordinate`` (lenient).
    """

    alarm: int
    status: int
    lat: float
    lng: float
    altitude_m: int
    speed_kmh: float
    heading: int
    time_ms: int | None
    time_raw: bytes = b""
    items: dict[int, bytes] = field(default_factory=dict)
    tail: bytes = b""
    warnings: list[str] = field(default_factory=list)

    @property
    def load(self) -> str:
        """Status bits 8-9: ``empty``, ``half``, ``reserved`` or ``full``."""
        return LOAD_STATES[(self.status >> 8) & 3]


def decode(body: bytes, lenient: bool = False) -> Location:
    """Decode a 0x0200 body.

    Raises
    ------
    CodecError
        ``truncated`` when shorter than 28 bytes; ``bad_coordinate`` when a coordinate DWORD is
        above 0x7FFFFFFF (some libraries send two's-complement negatives: with ``lenient`` it is
        read that way and the position gets the warning ``signed_coordinate``).
    """
    if len(body) < BASIC_LEN:
        raise CodecError("truncated", f"location body of {len(body)} bytes, at least 28 needed")
    alarm, status, lat_raw, lng_raw, alt, speed, heading, t = _BASIC.unpack_from(body)
    warnings: list[str] = []
    if lat_raw > 0x7FFFFFFF or lng_raw > 0x7FFFFFFF:
        if not lenient:
            raise CodecError(
                "bad_coordinate", f"lat/lng DWORD {lat_raw:08x}/{lng_raw:08x} above 0x7fffffff"
            )
        lat_raw = lat_raw - (1 << 32) if lat_raw > 0x7FFFFFFF else lat_raw
        lng_raw = lng_raw - (1 << 32) if lng_raw > 0x7FFFFFFF else lng_raw
        warnings.append("signed_coordinate")
    lat = lat_raw / 1e6
    lng = lng_raw / 1e6
    if status & SOUTH_BIT:
        lat = -lat
    if status & WEST_BIT:
        lng = -lng
    try:
        when: int | None = time_ms(t)
    except CodecError:
        when = None
        warnings.append("bad_time")
    items: dict[int, bytes] = {}
    tail = b""
    pos, n = BASIC_LEN, len(body)
    while pos < n:
        if pos + 2 > n or pos + 2 + body[pos + 1] > n:
            tail = body[pos:]
            warnings.append("truncated_item")
            break
        end = pos + 2 + body[pos + 1]
        items[body[pos]] = body[pos + 2 : end]
        pos = end
    return Location(
        alarm, status, lat, lng, alt, speed / 10, heading, when, t, items, tail, warnings
    )


def encode(loc: Location) -> bytes:
    """The 0x0200 body of ``loc``: signs go into status bits 2/3, magnitudes into the DWORDs.

    Raises
    ------
    CodecError
        ``bad_value`` when a field does not fit its wire width.
    """
    status = loc.status & ~(SOUTH_BIT | WEST_BIT)
    if loc.lat < 0:
        status |= SOUTH_BIT
    if loc.lng < 0:
        status |= WEST_BIT
    lat, lng = round(abs(loc.lat) * 1e6), round(abs(loc.lng) * 1e6)
    speed = round(loc.speed_kmh * 10)
    checks = (
        ("lat", lat, 0, 90_000_000), ("lng", lng, 0, 180_000_000),
        ("altitude_m", loc.altitude_m, -32768, 32767), ("speed_kmh", speed, 0, 0xFFFF),
        ("heading", loc.heading, 0, 0xFFFF), ("alarm", loc.alarm, 0, 0xFFFFFFFF),
        ("status", loc.status, 0, 0xFFFFFFFF),
    )  # fmt: skip
    for name, value, lo, hi in checks:
        if not lo <= value <= hi:
            raise CodecError("bad_value", f"{name}: {value} outside {lo}..{hi} on the wire")
    if loc.time_ms is not None:
        t = encode_time(loc.time_ms)
    elif len(loc.time_raw) == 6:
        t = loc.time_raw
    else:
        raise CodecError("bad_value", "time: neither time_ms nor a 6-byte time_raw")
    out = bytearray(_BASIC.pack(loc.alarm, status, lat, lng, loc.altitude_m, speed, loc.heading, t))
    for item_id, raw in loc.items.items():
        if not 0 <= item_id <= 0xFF or len(raw) > 0xFF:
            raise CodecError(
                "bad_value", f"item 0x{item_id:02x}: id or length ({len(raw)}) over a byte"
            )
        out.append(item_id)
        out.append(len(raw))
        out += raw
    return bytes(out + loc.tail)


@dataclass(slots=True)
class Batch:
    """A decoded 0x0704 body.

    Attributes
    ----------
    kind : int
        0 normal batch, 1 blind-area re-send (positions buffered out of coverage: backfill).
    count : int
        The count the terminal declared.
    positions : list of Location
        The positions that decoded, in order.
    rejected : list of tuple (int, CodecError)
        Index and error of each position that did not (the rest of the batch is kept).
    warnings : list of str
        ``count_mismatch`` when fewer or more items were present than declared.
    """

    kind: int
    count: int
    positions: list[Location] = field(default_factory=list)
    rejected: list[tuple[int, CodecError]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def backfill(self) -> bool:
        """Type 1: a blind-area re-send (盲区补报)."""
        return self.kind == BLIND_AREA


def decode_batch(body: bytes, lenient: bool = False) -> Batch:
    """Decode a 0x0704 body.

    An item whose length runs past the body ends the batch (the items before it are kept, the
    batch gets ``count_mismatch``); an item that does not decode is listed in ``rejected``.

    Raises
    ------
    CodecError
        ``truncated`` when the body is shorter than its 3-byte head; ``bad_body`` when no item
        is readable at all but some were declared.
    """
    if len(body) < _BATCH_HEAD.size:
        raise CodecError("truncated", f"batch body of {len(body)} bytes, at least 3 needed")
    count, kind = _BATCH_HEAD.unpack_from(body)
    batch = Batch(kind, count)
    pos, n, seen = _BATCH_HEAD.size, len(body), 0
    while pos + 2 <= n:
        (size,) = _U16.unpack_from(body, pos)
        if pos + 2 + size > n:
            break
        try:
            batch.positions.append(decode(body[pos + 2 : pos + 2 + size], lenient))
        except CodecError as exc:
            batch.rejected.append((seen, exc))
        seen += 1
        pos += 2 + size
    if seen != count or pos != n:
        batch.warnings.append("count_mismatch")
        if seen == 0 and count:
            raise CodecError("bad_body", f"batch declares {count} positions, none readable")
    return batch


def encode_batch(positions: list[Location], kind: int = NORMAL_BATCH) -> bytes:
    """The 0x0704 body of ``positions`` (type ``kind``: 0 normal, 1 blind-area)."""
    if not 0 <= len(positions) <= 0xFFFF or not 0 <= kind <= 0xFF:
        raise CodecError("bad_value", f"batch of {len(positions)} positions, type {kind}")
    out = bytearray(_BATCH_HEAD.pack(len(positions), kind))
    for loc in positions:
        raw = encode(loc)
        out += _U16.pack(len(raw))
        out += raw
    return bytes(out)


def status_flags(status: int) -> dict[str, object]:
    """Named status bits, with ``load`` for bits 8-9."""
    flags: dict[str, object] = {name: bool(status >> bit & 1) for bit, name in STATUS_FLAGS.items()}
    flags["load"] = LOAD_STATES[(status >> 8) & 3]
    return flags


def alarm_names(alarm: int, version: str) -> list[str]:
    """Names of the alarm bits set, as ``version`` (``"2013"`` or ``"2019"``) names them."""
    names = ALARMS_2019 if version == "2019" else ALARMS_2013
    return [names[i] for i in range(32) if alarm >> i & 1]
