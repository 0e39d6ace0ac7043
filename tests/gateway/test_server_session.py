"""The session's rules without sockets (time given), and the registry directory (issue 14)."""

from __future__ import annotations

import orjson
import pytest

from gateway import frame, header
from gateway.directory import Directory, phone_key
from gateway.encoders import authentication_body, encode_frame
from gateway.location import Location, encode, encode_batch
from gateway.messages import (
    AUTHENTICATE,
    BATCH,
    FAILURE,
    LOCATION,
    OK,
    RETRANSMIT_REQUEST,
    decode_frame,
)
from gateway.session import AuthCodes, Session

PHONE = "013900000001"
REGISTRY = {"vehicles": [{"id": "M001", "kind": "muck", "terminal_phone": PHONE}]}
T = 1_780_401_600_000  # 2026-06-02T20:00:00+08:00


def loc(time_ms: int | None = T) -> Location:
    """A position; ``time_ms=None``: the all-zero time of a terminal without a fix."""
    return Location(0, 2, 31.5, 120.3, 0, 30.0, 90, time_ms, b"\x00" * 6, items={})


def inner(raw: bytes) -> bytes:
    return raw[1:-1]  # what the splitter hands over: the bytes between the flags


def reply(step) -> dict:
    msg = decode_frame(step.reply)
    return {"msg_id": msg.header.msg_id, **msg.fields}


@pytest.fixture
def session() -> Session:
    s = Session(Directory.from_mapping(REGISTRY), AuthCodes(b"k"), reassembly_timeout_ms=1000)
    code = s.codes.code(phone_key(PHONE))
    step = s.frame(inner(encode_frame(AUTHENTICATE, PHONE, 1, authentication_body(code))), T)
    assert reply(step)["result"] == OK
    return s


def packet(serial: int, body: bytes, index: int, total: int) -> bytes:
    head = header.encode(BATCH, PHONE, serial, len(body), total=total, index=index)
    return inner(frame.build(head + body))


def test_subpackaged_batch_is_handled_once_complete(session):
    body = encode_batch([loc(), loc(), loc()], 1)
    half = len(body) // 2
    first = session.frame(packet(10, body[:half], 1, 2), T)
    assert first.pings == [] and reply(first)["result"] == OK  # each packet acknowledged
    second = session.frame(packet(11, body[half:], 2, 2), T + 100)
    assert [p.get("backfill") for p in second.pings] == [True] * 3
    assert reply(second)["ack_serial"] == 11


def test_an_incomplete_message_expires_with_a_retransmission_request(session):
    body = encode_batch([loc(), loc()], 0)
    session.frame(packet(20, body[:10], 1, 3), T)
    assert session.expire(T + 500) == []
    (request,) = session.expire(T + 1500)
    msg = decode_frame(request)
    assert msg.header.msg_id == RETRANSMIT_REQUEST
    assert msg.fields == {"first_serial": 20, "indices": [2, 3]}


def test_a_position_without_a_time_makes_no_ping_but_is_acknowledged(session):
    step = session.frame(inner(encode_frame(LOCATION, PHONE, 5, encode(loc(time_ms=None)))), T)
    assert step.pings == [] and step.skipped == 1 and reply(step)["result"] == OK


def test_a_batch_keeps_its_good_positions(session):
    step = session.frame(
        inner(encode_frame(BATCH, PHONE, 6, encode_batch([loc(), loc(time_ms=None)], 0))), T
    )
    assert len(step.pings) == 1 and step.skipped == 1


def test_logout_ends_authentication(session):
    step = session.frame(inner(encode_frame(0x0003, PHONE, 7)), T)
    assert step.close and reply(step)["result"] == OK
    again = session.frame(inner(encode_frame(LOCATION, PHONE, 8, encode(loc()))), T)
    assert reply(again)["result"] == FAILURE and again.pings == []


def test_replies_count_the_platforms_own_serial(session):
    a = decode_frame(session.frame(inner(encode_frame(0x0002, PHONE, 100)), T).reply)
    b = decode_frame(session.frame(inner(encode_frame(0x0002, PHONE, 100)), T).reply)
    assert b.header.serial == a.header.serial + 1
    assert a.fields["ack_serial"] == b.fields["ack_serial"] == 100


@pytest.mark.parametrize(
    "entry, expect",
    [
        ({"terminal_phone": "013900000001"}, ("V", False, True, False)),
        ({"terminal_phone": "13900000001", "terminal_datum": "gcj02"}, ("V", True, True, False)),
        ({"terminal_phone": "0013900000001", "load_sensor": False}, ("V", False, False, False)),
        ({"terminal_phone": "13900000001", "terminal_lenient": True}, ("V", False, True, True)),
        ({"terminal_phone": ""}, None),
        ({}, None),
    ],
)
def test_directory_reads_the_gateways_registry_keys(entry, expect):
    d = Directory.from_mapping({"vehicles": [{"id": "V", "kind": "muck", **entry}]})
    t = d.terminal("13900000001")
    assert (None if t is None else (t.vehicle, t.gcj02, t.load_sensor, t.lenient)) == expect


def test_directory_follows_registry_records():
    d = Directory()
    entry = {"id": "V1", "kind": "muck", "terminal_phone": "013900000009"}
    d.apply_record(b"vehicles/V1", orjson.dumps(entry))
    d.apply_record(b"permits/P1", orjson.dumps({"id": "P1"}))  # not a vehicle: ignored
    assert d.terminal("13900000009").vehicle == "V1"
    d.apply_record(b"vehicles/V1", orjson.dumps({**entry, "terminal_phone": "013900000010"}))
    assert d.known("13900000009") is None and d.terminal("13900000010").vehicle == "V1"
    d.apply_record(b"vehicles/V1", None)  # tombstone: the vehicle is gone
    assert len(d) == 0


def test_replies_are_in_the_requests_version_and_phone_bytes(session):
    raw = inner(encode_frame(0x0002, PHONE, 9, b"", "2019"))
    msg = decode_frame(session.frame(raw, T).reply)
    req = decode_frame(raw)
    assert msg.header.version == "2019" and msg.header.phone_bcd == req.header.phone_bcd
    assert msg.fields == {"ack_serial": 9, "ack_msg_id": 0x0002, "result": OK}
