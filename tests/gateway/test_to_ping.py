"""A decoded position as the engine's ping (docs/formats.md pings.jsonl)."""

from __future__ import annotations

import json

import pytest

from gateway.errors import CodecError
from gateway.items import EEYE_MUCK, ItemSpec, VendorProfile, code_flag, flag_bits, scaled
from gateway.location import decode
from gateway.messages import decode_frame
from gateway.to_ping import Terminal, to_ping
from geofence.datum import gcj02_to_wgs84_point, wgs84_to_gcj02
from stream.ping import parse_ping
from tests.gateway.test_location import T0, body
from tests.gateway.vectors import BY_NAME

TRUCK = Terminal("SU-B12345")


def test_v01_as_a_ping_parses_with_the_engine_parser():
    loc = decode_frame(bytes.fromhex(BY_NAME["V01"].hex)).fields["location"]
    ping = to_ping(loc, TRUCK, seq=8888, received=1_531_620_611_000)
    assert ping == {
        "vehicle": "SU-B12345", "ts": 1_531_620_610_000, "lat": 12.222222, "lng": 132.444444,
        "speed_kmh": 6.0, "heading": 0, "acc": False, "loaded": "empty", "source": "jt808",
        "seq": 8888, "received": 1_531_620_611_000,
    }  # fmt: skip
    parsed = parse_ping(json.dumps(ping))
    assert parsed.warnings is None and parsed.source == "jt808" and parsed.seq == 8888


@pytest.mark.parametrize(
    "bits, loaded", [(0b00, "empty"), (0b01, "half"), (0b11, "full"), (0b10, None)]
)
def test_loaded_from_status_bits_8_9(bits, loaded):
    ping = to_ping(decode(body(status=0x3 | bits << 8)), TRUCK, 1, T0)
    assert ping.get("loaded") == loaded and ping["acc"] is True


def test_no_load_sensor_leaves_loaded_out():
    assert "loaded" not in to_ping(decode(body()), Terminal("V", load_sensor=False), 1, T0)


def test_backfill_only_for_blind_area_positions():
    assert to_ping(decode(body()), TRUCK, 1, T0, backfill=True)["backfill"] is True
    assert "backfill" not in to_ping(decode(body()), TRUCK, 1, T0)


def test_blind_area_batch_positions_become_backfill_pings():
    from gateway import location
    from gateway.encoders import encode_frame

    batch_body = location.encode_batch([decode(body()), decode(body(time_ms=T0 + 10_000))], 1)
    batch = decode_frame(encode_frame(0x0704, "1", 9, batch_body)).fields["batch"]
    pings = [to_ping(p, TRUCK, 9, T0 + 3_600_000, batch.backfill) for p in batch.positions]
    assert [p["backfill"] for p in pings] == [True, True]
    assert [p["ts"] for p in pings] == [T0, T0 + 10_000]


def test_gcj02_terminal_is_converted_to_wgs84():
    gx, gy = wgs84_to_gcj02(120.31, 31.49)
    loc = decode(body(lat=round(float(gy), 6), lng=round(float(gx), 6)))
    ping = to_ping(loc, Terminal("V", gcj02=True), 1, T0)
    assert (ping["lng"], ping["lat"]) == gcj02_to_wgs84_point(loc.lng, loc.lat)
    assert abs(ping["lng"] - 120.31) < 1e-5 and abs(ping["lat"] - 31.49) < 1e-5
    assert to_ping(loc, TRUCK, 1, T0)["lat"] == loc.lat  # a WGS-84 terminal is left as is


def test_lift_and_cover_from_a_vendor_profile():
    loc = decode(body(items={0xE4: (0b11).to_bytes(4, "big")}))
    ping = to_ping(loc, Terminal("V", vendor=EEYE_MUCK), 1, T0)
    assert (ping["lift"], ping["cover_open"]) == (True, True)
    assert "lift" not in to_ping(loc, TRUCK, 1, T0)  # no profile: the item means nothing


def test_a_city_profile_is_data_not_decoder_code():
    city = VendorProfile(
        "city-standard",
        {
            0xF1: ItemSpec("lift_state", code_flag("lift", (2,)), (1,)),
            0xF2: ItemSpec("box_state", code_flag("cover_open", (2,)), (1,)),
            0xF3: ItemSpec("weight", scaled("weight_t", 0.01), (2,)),
            0xF4: ItemSpec("bits", flag_bits(spare=0), (1,)),
        },
    )
    loc = decode(body(items={0xF1: b"\x02", 0xF2: b"\x01", 0xF3: b"\x03\xe8"}))
    ping = to_ping(loc, Terminal("V", vendor=city), 1, T0)
    assert (ping["lift"], ping["cover_open"]) == (True, False)
    assert "weight_t" not in ping  # not a ping field: shown in extras only


def test_a_position_without_a_valid_time_is_no_ping():
    with pytest.raises(CodecError) as info:
        to_ping(decode(bytes.fromhex("0" * 56)), TRUCK, 1, T0)
    assert info.value.reason == "bad_time"


def test_encrypted_coordinates_make_no_ping():
    with pytest.raises(CodecError) as info:
        to_ping(decode(body(status=0x3 | 1 << 5)), TRUCK, 1, T0)
    assert info.value.reason == "bad_coordinate"
