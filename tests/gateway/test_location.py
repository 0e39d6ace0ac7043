"""0x0200 bodies: signs, load state, alarms and flags, items, bad times and coordinates."""

from __future__ import annotations

import pytest

from gateway import location
from gateway.errors import CodecError
from gateway.items import EEYE_MUCK, named_extras
from gateway.location import Location, alarm_names, decode, decode_batch, status_flags
from gateway.messages import decode_frame
from tests.gateway.vectors import BY_NAME

T0 = 1_733_450_400_000  # 2024-12-06T02:00:00Z = 10:00 in Beijing


def body(status=0x3, lat=31.49, lng=120.31, items=None, time_ms=T0, **kw) -> bytes:
    return location.encode(
        Location(kw.get("alarm", 0), status, lat, lng, 5, 36.0, 90, time_ms, items=items or {})
    )


@pytest.mark.parametrize(
    "status, lat, lng",
    [
        (0b0000, 31.49, 120.31),
        (0b0100, -31.49, 120.31),  # bit 2: south
        (0b1000, 31.49, -120.31),  # bit 3: west
        (0b1100, -31.49, -120.31),
    ],
)
def test_signs_come_from_status_bits_2_and_3(status, lat, lng):
    raw = body(lat=abs(lat), lng=abs(lng))
    raw = raw[:4] + status.to_bytes(4, "big") + raw[8:]
    loc = decode(raw)
    assert (loc.lat, loc.lng) == (lat, lng)
    assert location.encode(loc) == raw


@pytest.mark.parametrize(
    "bits, load", [(0b00, "empty"), (0b01, "half"), (0b10, "reserved"), (0b11, "full")]
)
def test_load_state_is_bits_8_and_9_as_one_value(bits, load):
    loc = decode(body(status=0x3 | bits << 8))
    assert loc.load == load and status_flags(loc.status)["load"] == load


def test_status_flags_of_v15():
    flags = status_flags(0x004C1003)  # ACC, fixed, doors locked, GPS, BeiDou, moving
    on = sorted(name for name, value in flags.items() if value is True)
    assert on == ["acc", "beidou", "doors_locked", "fixed", "gps", "moving"]


@pytest.mark.parametrize(
    "alarm, version, names",
    [
        (1 << 13, "2013", ["overspeed_warning"]),
        (1 << 3 | 1 << 31, "2013", ["danger_warning", "illegal_door_open"]),
        (1 << 3 | 1 << 31, "2019", ["dangerous_driving", "reserved_31"]),
        (1 << 15 | 1 << 29, "2019", ["illegal_driving", "collision_rollover"]),
        (1 << 15 | 1 << 29, "2013", ["reserved_15", "collision_warning"]),
    ],
)
def test_alarm_names_depend_on_the_version(alarm, version, names):
    assert alarm_names(alarm, version) == names


def test_bcd_time_is_gmt8():
    loc = decode(bytes.fromhex("0" * 44) + bytes.fromhex("241206100000"))
    assert loc.time_ms == T0


@pytest.mark.parametrize("bcd", ["000000000000", "241306100000", "2402301000aa", "250229000000"])
def test_a_time_that_is_no_date_is_a_warning_not_a_crash(bcd):
    loc = decode(bytes.fromhex("0" * 44 + bcd))
    assert loc.time_ms is None and loc.warnings == ["bad_time"] and loc.time_raw.hex() == bcd


def test_a_leap_day_is_a_date():
    assert decode(bytes.fromhex("0" * 44 + "240229000000")).time_ms == 1_709_136_000_000


def test_twos_complement_coordinates_are_refused_strictly_and_read_leniently():
    # SmallChi's LatLngTest: FF4580F2 = -12222222 (PROTOCOL.md 1.4).
    raw = bytes.fromhex("0000000000000000FF4580F207E4F11C" + "0" * 12 + "241206100000")
    with pytest.raises(CodecError) as info:
        decode(raw)
    assert info.value.reason == "bad_coordinate"
    loc = decode(raw, lenient=True)
    assert loc.lat == -12.222222 and loc.warnings == ["signed_coordinate"]


def test_an_item_running_past_the_body_is_flagged_and_the_rest_kept():
    raw = body(items={0x01: bytes(4)}) + bytes.fromhex("3005AA")
    loc = decode(raw)
    assert loc.items == {0x01: bytes(4)} and loc.tail == bytes.fromhex("3005AA")
    assert loc.warnings == ["truncated_item"]
    assert location.encode(loc) == raw


def test_altitude_below_sea_level():
    assert decode(body()[:16] + (-3).to_bytes(2, "big", signed=True) + body()[18:]).altitude_m == -3


def test_named_extras_of_v15():
    loc = decode_frame(bytes.fromhex(BY_NAME["V15"].hex)).fields["location"]
    extras = named_extras(loc.items)
    assert extras["0x01"] == {"name": "mileage_km", "value": 20.4, "raw": "000000cc"}
    assert extras["0x02"]["value"] == 46.8
    assert extras["0x30"]["value"] == 8 and extras["0x31"]["value"] == 9
    assert extras["0x25"]["name"] == "signals" and not any(extras["0x25"]["value"].values())
    assert extras["0x64"] == {"raw": loc.items[0x64].hex()}  # Jiangsu ADAS: not standard, raw


@pytest.mark.parametrize(
    "item_id, raw, value",
    [
        (0x03, "0190", 40.0),
        (0x06, "8005", -5),  # sign in the MSB
        (0x06, "0019", 25),
        (0x11, "00", {"type": "none"}),
        (0x11, "0100000007", {"type": "circle", "id": 7}),
        (0x12, "030000000901", {"type": "polygon", "id": 9, "direction": "out"}),
        (0x13, "00000002003C01", {"segment": 2, "seconds": 60, "result": "too_long"}),
        (0x2A, "0002", {"deep_sleep": False, "sleep": True}),
        (0x2B, "00020001", {"ad0": 1, "ad1": 2}),
    ],
)
def test_standard_items(item_id, raw, value):
    assert named_extras({item_id: bytes.fromhex(raw)})[f"0x{item_id:02X}"]["value"] == value


def test_signals_item_bits():
    value = named_extras({0x25: (1 << 4 | 1 << 5).to_bytes(4, "big")})["0x25"]["value"]
    assert [k for k, v in value.items() if v] == ["brake", "reverse"]


def test_a_known_item_of_the_wrong_length_stays_raw():
    assert named_extras({0x01: b"\x01"}) == {"0x01": {"raw": "01"}}


def test_a_vendor_profile_names_its_items_and_overrides_nothing_standard():
    items = {0xE4: (0b10).to_bytes(4, "big"), 0x01: bytes(4)}
    extras = named_extras(items, EEYE_MUCK)
    assert extras["0xE4"]["value"] == {"cover_open": False, "lift": True}
    assert extras["0x01"]["name"] == "mileage_km"


def test_batch_keeps_the_good_positions_when_one_is_bad():
    good = body()
    bad = body()[:8] + bytes.fromhex("FF000000") + body()[12:]
    raw = (3).to_bytes(2, "big") + b"\x01"
    for b in (good, bad, good):
        raw += len(b).to_bytes(2, "big") + b
    batch = decode_batch(raw)
    assert batch.backfill and len(batch.positions) == 2
    assert [(i, e.reason) for i, e in batch.rejected] == [(1, "bad_coordinate")]


def test_batch_with_fewer_items_than_declared():
    raw = (3).to_bytes(2, "big") + b"\x00" + len(body()).to_bytes(2, "big") + body() + b"\x00\x40"
    batch = decode_batch(raw)
    assert len(batch.positions) == 1 and batch.warnings == ["count_mismatch"]


@pytest.mark.parametrize(
    "field, value",
    [("lat", 91.0), ("lng", 181.0), ("speed_kmh", 6553.6), ("altitude_m", 40000),
     ("heading", -1), ("time_ms", 0)],
)  # fmt: skip
def test_encode_refuses_what_the_wire_cannot_carry(field, value):
    loc = decode(body())
    setattr(loc, field, value)
    with pytest.raises(CodecError) as info:
        location.encode(loc)
    assert info.value.reason == "bad_value"
