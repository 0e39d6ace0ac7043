"""Every frame of PROTOCOL.md section 2, positive and negative, decoded as its peer asserts."""

from __future__ import annotations

import pytest

from gateway.errors import CodecError
from gateway.frame import FrameSplitter
from gateway.header import parse
from gateway.jsonview import from_dict, iso_utc, to_dict
from gateway.messages import decode_frame
from tests.gateway.vectors import BY_NAME, N6, N7, NEGATIVES, VECTORS


def decoded(name: str, lenient: bool = False):
    return decode_frame(bytes.fromhex(BY_NAME[name].hex), lenient=lenient)


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: v.name)
@pytest.mark.parametrize("lenient", [False, True], ids=["strict", "lenient"])
def test_header_of_every_vector(vector, lenient):
    msg = decode_frame(bytes.fromhex(vector.hex), lenient=lenient)
    head = msg.header
    assert (head.msg_id, head.version, head.phone, head.serial) == (
        vector.msg_id,
        vector.version,
        vector.phone,
        vector.serial,
    )
    assert head.warnings == []


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: v.name)
def test_every_vector_reencodes_byte_for_byte_through_its_json(vector):
    raw = bytes.fromhex(vector.hex)
    assert from_dict(to_dict(decode_frame(raw))) == raw


def _position(loc):
    return (
        loc.alarm, loc.status, loc.lat, loc.lng, loc.altitude_m, loc.speed_kmh, loc.heading,
        iso_utc(loc.time_ms), {k: v.hex() for k, v in loc.items.items()},
    )  # fmt: skip


# The basic fields peers assert (time shown in UTC: the wire's GMT+8 minus 8 hours).
POSITIONS = {
    "V01": [(1, 2, 12.222222, 132.444444, 40, 6.0, 0, "2018-07-15T02:10:10Z",
             {1: "00000064", 2: "0037"})],
    "V02": [(1, 2, 12.222222, 132.444444, 40, 6.0, 0, "2018-07-15T02:10:10Z",
             {1: "00000064", 2: "0037"}),
            (2, 1, 13.333333, 132.555555, 41, 5.4, 120, "2018-07-15T02:10:30Z",
             {1: "00000060", 2: "0042"})],
    "V15": [(0x2000, 0x004C1003, 31.512562, 121.532076, 100, 53.2, 20, "2024-11-27T07:42:30Z",
             {1: "000000cc", 2: "01d4", 0x25: "00000000", 0x30: "08", 0x31: "09",
              0x14: "0000007f", 0x15: "00000001", 0x16: "00000001", 0x17: "0001",
              0x18: "000709",
              0x64: "0000001f000201323201000035006401e0d40a073e6ac4241127154210ffff6964303030"
                    "3033241127154217000500"})],
    "V18": [(1, 1, 31.000562, 121.451372, 666, 3.3, 89, "2024-10-29T13:39:03Z", {}),
            (1, 1, 31.000563, 121.451373, 777, 6.7, 90, "2024-10-29T13:39:03Z", {})],
    # Status 0x16 has bit 2 (south): the latitude is negative though the DWORD is not.
    "V19": [(0x6F, 0x16, -31.234567, 121.987654, 123, 6.6, 3, "2025-01-29T14:33:44Z",
             {2: "0064", 1: "0000000c"})],
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(POSITIONS))
def test_positions_of_location_and_batch_vectors(name):
    msg = decoded(name)
    if "batch" in msg.fields:
        batch = msg.fields["batch"]
        assert (batch.count, batch.kind, batch.backfill, batch.rejected) == (2, 0, False, [])
        positions = batch.positions
    else:
        positions = [msg.fields["location"]]
    assert [_position(p) for p in positions] == POSITIONS[name]
    assert all(p.warnings == [] for p in positions)


def test_v19_items_keep_arrival_order():
    assert list(decoded("V19").fields["location"].items) == [0x02, 0x01]


# Body fields of the other messages, as their peers assert.
FIELDS = {
    "V03": {},
    "V04": {},
    "V05": {},
    "V06": {"ack_serial": 1000, "ack_msg_id": 0x0002, "result": 0},
    "V07": {"ack_serial": 100, "ack_msg_id": 0x0200, "result": 0},
    "V08": {"layout": "2013", "province": 40, "city": 50, "manufacturer": "1234",
            "model": "smallchi123", "terminal_id": "CHI123", "plate_color": 1,
            "plate": "粤A12345"},
    "V09": {"layout": "2019", "province": 40, "city": 50, "manufacturer": "1234",
            "model": "smallchi123", "terminal_id": "CHI123", "plate_color": 1,
            "plate": "粤A12345"},
    "V10": {"layout": "2011", "province": 40, "city": 50, "manufacturer": "1234",
            "model": "tk12345", "terminal_id": "CHI123", "plate_color": 1, "plate": "粤A12345"},
    "V11": {"ack_serial": 100, "result": 0, "auth_code": "123456"},
    "V12": {"ack_serial": 100, "result": 4},
    "V13": {"auth_code": "456121111"},
    "V16": {"layout": "2013", "province": 31, "city": 115, "manufacturer": "yzh",
            "model": "www.jtt808.com", "terminal_id": "7654321", "plate_color": 1,
            "plate": "测A1234"},
    "V17": {"ack_serial": 0, "result": 0, "auth_code": "12345678901"},
    "V20": {"layout": "2019", "province": 11, "city": 2, "manufacturer": "id123456789",
            "model": "type12345678901234567890123456",
            "terminal_id": "id1234567890123456789012345678", "plate_color": 1,
            "plate": "甘J-123459"},
    "V21": {"ack_serial": 111, "ack_msg_id": 0x0200, "result": 0},
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(FIELDS))
def test_body_fields_of_the_other_vectors(name):
    msg = decoded(name)
    assert msg.fields == FIELDS[name]
    assert msg.supported


def test_v09_is_protocol_version_1_and_v15_had_an_escape_in_its_length_field():
    assert decoded("V09").header.protocol_version == 1
    head = decoded("V15").header
    assert (head.body_len, head.protocol_version) == (126, 1)  # 0x7E, sent as 7D 02


def test_v14_is_packet_2_of_2_and_its_body_is_left_to_reassembly():
    msg = decoded("V14")
    head = msg.header
    assert (head.total, head.index, head.body_len, head.subpackaged) == (2, 2, 56, True)
    assert msg.fields == {} and len(msg.body) == 56


@pytest.mark.parametrize("negative", NEGATIVES, ids=lambda n: n.name)
def test_negative_vectors_give_their_reason(negative):
    raw = bytes.fromhex(negative.hex)
    with pytest.raises(CodecError) as info:
        decode_frame(raw)
    assert info.value.reason == negative.reason
    if negative.lenient is None:
        assert decode_frame(raw, lenient=True).header.warnings
    else:
        with pytest.raises(CodecError) as info:
            decode_frame(raw, lenient=True)
        assert info.value.reason == negative.lenient


@pytest.mark.parametrize(
    "hexdata",
    [
        "0200400001" + "00" * 10,  # 2019 flag, 15 bytes: shorter than a 2019 header
        "02002000" + "00" * 9,  # subpackage bit, 13 bytes: no room for total/index
        "02006000" + "00" * 16,  # 2019 + subpackage, 20 bytes: 21 needed
    ],
)
def test_frames_shorter_than_the_header_they_announce_are_truncated(hexdata):
    from gateway.frame import build

    for lenient in (False, True):
        with pytest.raises(CodecError) as info:
            decode_frame(build(bytes.fromhex(hexdata)), lenient=lenient)
        assert info.value.reason == "truncated"


def test_n1_error_carries_the_readable_header_for_a_result_2_reply():
    with pytest.raises(CodecError) as info:
        decode_frame(bytes.fromhex(NEGATIVES[0].hex))
    head = info.value.header
    assert (head.msg_id, head.total, head.index) == (0x0801, 26, 2)
    assert "53" in info.value.detail and "54" in info.value.detail


def test_n2_lenient_takes_the_bytes_present():
    msg = decode_frame(bytes.fromhex(NEGATIVES[1].hex), lenient=True)
    assert msg.header.warnings == ["bad_length"] and msg.body == bytes.fromhex("28080001")


def test_n5_lenient_reads_the_bare_7d_as_the_checksum():
    msg = decode_frame(bytes.fromhex(NEGATIVES[-1].hex), lenient=True)
    assert (msg.header.msg_id, msg.header.phone, msg.header.warnings) == (2, "679", ["bare_escape"])


@pytest.mark.parametrize("lenient", [False, True], ids=["strict", "lenient"])
def test_n6_a_terminal_lying_about_bit_14_is_read_as_2013(lenient):
    msg = decode_frame(bytes.fromhex(N6), lenient=lenient)
    head = msg.header
    assert (head.msg_id, head.version, head.version_flag) == (0x0102, "2013", True)
    assert (head.phone_bcd.hex(), head.serial) == ("010030000681", 2306)
    assert head.warnings == ["version_flag_mismatch"]
    assert msg.fields == {"auth_code": "J10030000681"}


def test_n7_and_traccar_escape_vectors():
    splitter = FrameSplitter()
    assert splitter.feed(bytes.fromhex(N7)) == [bytes.fromhex("307d02087d0155")]
    assert splitter.skipped == 2
    from gateway.frame import escape, unescape

    assert unescape(bytes.fromhex("307d02087d0155")) == bytes.fromhex("307e087d55")
    assert escape(bytes.fromhex("307e087d55")) == bytes.fromhex("307d02087d0155")


# --- 2.4 primitive vectors ---------------------------------------------------------------


@pytest.mark.parametrize(
    "value, length, rsa, sub, v2019",
    [(9471, 255, 1, True, False), (25855, 255, 1, True, True), (17663, 255, 1, False, True)],
)
def test_body_property_words(value, length, rsa, sub, v2019):
    from gateway.header import encode

    version = "2019" if v2019 else "2013"
    total, index = (1, 1) if sub else (None, None)
    head = encode(0x0102, "1", 1, length, version, total=total, index=index, encryption=rsa)
    assert int.from_bytes(head[2:4], "big") == value


def _with_body(head_hex: str) -> bytes:
    """A header-only vector completed into a frame's unescaped bytes (body, checksum)."""
    head = bytes.fromhex(head_hex)
    body_len = int.from_bytes(head[2:4], "big") & 0x3FF
    return head + bytes(body_len) + b"\x00"


def test_2019_header_only_vector():
    head = parse(_with_body("010264FF0200000000013812345678008700000000"))
    assert (head.msg_id, head.body_len, head.encryption, head.version) == (0x0102, 255, 1, "2019")
    assert (head.protocol_version, head.phone, head.serial) == (2, "13812345678", 135)
    assert (head.total, head.index) == (0, 0)


def test_2013_header_only_vector():
    head = parse(_with_body("010200050138123456780087"))
    assert (head.msg_id, head.body_len, head.phone, head.serial) == (0x0102, 5, "13812345678", 135)
    assert head.version == "2013" and head.total is None


def test_0200_body_without_header():
    from gateway.location import decode

    loc = decode(bytes.fromhex(
        "000000010000000200BA7F0E07E4F11C0028003C000018071510101001040000006402020037"
    ))  # fmt: skip
    assert _position(loc) == POSITIONS["V01"][0]


def test_0102_body_2019():
    from gateway.header import Header
    from gateway.messages import decode_body

    head = Header(0x0102, "2019", "1", b"\x00" * 10, 1, 41, protocol_version=1)
    body = bytes.fromhex(
        "05343536313231323334353637383930616263646576322E302E300000000000000000000000000000"
    )
    assert decode_body(head, body).fields == {
        "auth_code": "45612",
        "imei": "1234567890abcde",
        "software_version": "v2.0.0",
    }


@pytest.mark.parametrize("negative", [n for n in NEGATIVES if n.lenient is None], ids=str)
def test_a_quirky_frame_is_accepted_only_from_a_lenient_terminal(negative):
    from gateway.messages import decode_for_terminal

    raw = bytes.fromhex(negative.hex)
    asked = []

    def lenient_of(phone):
        asked.append(phone)
        return phone == lenient_phone

    lenient_phone = decode_frame(raw, lenient=True).header.phone
    assert decode_for_terminal(raw, lenient_of).header.warnings
    lenient_phone = "someone else"
    with pytest.raises(CodecError) as info:
        decode_for_terminal(raw, lenient_of)
    assert info.value.reason == negative.reason and len(asked) == 2


def test_a_good_frame_never_asks_about_the_terminal():
    from gateway.messages import decode_for_terminal

    msg = decode_for_terminal(bytes.fromhex(BY_NAME["V01"].hex), lambda phone: 1 / 0)
    assert msg.header.serial == 8888
