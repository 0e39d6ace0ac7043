# ruff: noqa: E501 (the registration table keeps one vector per line)
"""The platform's replies and the terminal-side encoders reproduce the published frames."""

from __future__ import annotations

import pytest

from gateway import encoders, messages
from gateway.encoders import (
    authentication_body,
    encode_frame,
    general_response,
    registration_body,
    registration_response,
)
from gateway.errors import CodecError
from gateway.header import Header
from gateway.messages import decode_frame
from tests.gateway.vectors import BY_NAME


def hexof(name: str) -> bytes:
    return bytes.fromhex(BY_NAME[name].hex)


def request(msg_id: int, serial: int, phone_bcd: str, version: str = "2013") -> Header:
    proto = 1 if version == "2019" else None
    return Header(msg_id, version, "", bytes.fromhex(phone_bcd), serial, 0, protocol_version=proto)


@pytest.mark.parametrize(
    "name, req, result, serial",
    [
        ("V07", request(0x0200, 100, "012345678900"), 0, 10),
        ("V21", request(0x0200, 111, "00000000013912344329", "2019"), 0, 0),
    ],
)
def test_general_response_echoes_serial_and_id_in_the_request_version(name, req, result, serial):
    assert general_response(req, result, serial) == hexof(name)


@pytest.mark.parametrize(
    "name, req, result, serial, code",
    [
        ("V11", request(0x0100, 100, "012345678900"), 0, 10, "123456"),
        ("V12", request(0x0100, 100, "012345678900"), 4, 10, None),
    ],
)
def test_registration_response(name, req, result, serial, code):
    assert registration_response(req, result, serial, code) == hexof(name)


def test_v17_is_the_reply_to_v16():
    reg = decode_frame(hexof("V16"))
    assert registration_response(reg.header, 0, 1, "12345678901") == hexof("V17")


def test_reply_to_a_2019_request_is_2019_with_its_phone_bytes():
    reg = decode_frame(hexof("V20"))
    reply = decode_frame(general_response(reg.header, messages.UNSUPPORTED, 7))
    assert reply.header.version == "2019" and reply.header.phone_bcd == reg.header.phone_bcd
    assert reply.fields == {"ack_serial": 0, "ack_msg_id": 0x0100, "result": 3}


def test_registration_success_needs_an_auth_code():
    with pytest.raises(CodecError) as info:
        registration_response(request(0x0100, 1, "012345678900"), 0, 1, None)
    assert info.value.reason == "bad_value"


REGISTRATIONS = [
    ("V08", "123456789", 10, (40, 50, "1234", "smallchi123", "CHI123", 1, "粤A12345", "2013"), "2013"),
    ("V10", "123456789", 10, (40, 50, "1234", "tk12345", "CHI123", 1, "粤A12345", "2011"), "2013"),
    ("V09", "123456789", 10, (40, 50, "1234", "smallchi123", "CHI123", 1, "粤A12345", "2019"), "2019"),
    ("V20", "13912344329", 0, (11, 2, "id123456789", "type12345678901234567890123456", "id1234567890123456789012345678", 1, "甘J-123459", "2019"), "2019"),
    ("V16", "12345678901", 0, (31, 115, "yzh", "www.jtt808.com", "7654321", 1, "测A1234", "2013"), "2013"),
]  # fmt: skip


@pytest.mark.parametrize("name, phone, serial, fields, version", REGISTRATIONS)
def test_registration_body_in_each_layout(name, phone, serial, fields, version):
    assert encode_frame(0x0100, phone, serial, registration_body(*fields), version) == hexof(name)


@pytest.mark.parametrize(
    "name, msg_id, phone, serial, body",
    [
        ("V03", 0x0002, "40021679287", 43, b""),  # checksum 0x7E goes out escaped
        ("V04", 0x0002, "12345678900", 10, b""),
        ("V05", 0x0003, "12345678900", 1, b""),
        ("V06", 0x0001, "12345678900", 1203, encoders.terminal_response_body(1000, 2, 0)),
        ("V13", 0x0102, "12345678900", 12345, authentication_body("456121111")),
    ],
)
def test_terminal_messages(name, msg_id, phone, serial, body):
    assert encode_frame(msg_id, phone, serial, body) == hexof(name)


def test_authentication_body_2019_is_the_primitive_vector():
    body = authentication_body("45612", "2019", "1234567890abcde", "v2.0.0")
    assert body.hex().upper() == (
        "05343536313231323334353637383930616263646576322E302E300000000000000000000000000000"
    )


@pytest.mark.parametrize(
    "call",
    [
        lambda: encode_frame(0x0200, "1" * 13, 1),  # 13 digits in BCD[6]
        lambda: encode_frame(0x0200, "12a", 1),
        lambda: encode_frame(0x0200, "1", 70000),
        lambda: encode_frame(0x0200, "1", 1, bytes(1024)),
        lambda: registration_body(1, 2, "toolongmaker", "m", "t", 1, "p", "2013"),
    ],
)
def test_encoders_refuse_what_the_wire_cannot_carry(call):
    with pytest.raises(CodecError) as info:
        call()
    assert info.value.reason == "bad_value"


def test_unknown_and_encrypted_messages_are_unsupported_not_errors():
    unknown = decode_frame(encode_frame(0x0900, "1", 1, b"\x01\x02"))
    assert (unknown.supported, unknown.fields, unknown.body) == (False, {}, b"\x01\x02")
    from gateway import frame, header

    rsa = frame.build(header.encode(0x0200, "1", 1, 3, encryption=1) + b"abc")
    msg = decode_frame(rsa)
    assert (msg.supported, msg.header.encryption, msg.fields) == (False, 1, {})


@pytest.mark.parametrize(
    "msg_id, body, reason",
    [
        (0x0200, bytes(27), "truncated"),
        (0x0001, bytes(4), "truncated"),
        (0x8100, bytes(2), "truncated"),
        (0x0100, bytes(20), "truncated"),
        (0x0704, bytes(2), "truncated"),
        (0x0704, bytes.fromhex("000200"), "bad_body"),  # 2 declared, none present
    ],
)
def test_malformed_bodies_carry_the_reason_and_the_header(msg_id, body, reason):
    with pytest.raises(CodecError) as info:
        decode_frame(encode_frame(msg_id, "13912344329", 77, body))
    assert info.value.reason == reason
    assert (info.value.header.msg_id, info.value.header.serial) == (msg_id, 77)


@pytest.mark.parametrize(
    "layout, plate_color, plate",
    [
        ("2011", 0, "LGAX2A136J1234567"),  # an unplated truck: its VIN, 38 bytes after the area
        ("2011", 2, "苏B12345"),
        ("2011", 10, "苏B12345"),  # a colour code beyond the known ones: size decides
        ("2013", 0, "LGAX2A136J1234567"),
        ("2013", 2, ""),
        ("2013", 1, "苏B12345"),
    ],
)
def test_2011_and_2013_registrations_are_told_apart(layout, plate_color, plate):
    body = registration_body(32, 200, "70111", "ZT-1", "T0001", plate_color, plate, layout)
    fields = decode_frame(encode_frame(0x0100, "13912344329", 1, body)).fields
    assert (fields["layout"], fields["plate_color"], fields["plate"]) == (
        layout,
        plate_color,
        plate,
    )
    assert (fields["manufacturer"], fields["model"], fields["terminal_id"]) == (
        "70111", "ZT-1", "T0001",
    )  # fmt: skip
