"""Subpackage reassembly: order, retransmission, timeout, memory cap (time is an argument)."""

from __future__ import annotations

import pytest

from gateway import frame, header
from gateway.encoders import retransmit_request
from gateway.errors import CodecError
from gateway.jsonview import from_dict, to_dict
from gateway.messages import decode_body, decode_frame
from gateway.reassembly import Reassembler
from tests.gateway.vectors import BY_NAME


def packet(serial: int, total: int, index: int, body: bytes, msg_id=0x0200, phone="13912344329"):
    raw = frame.build(
        header.encode(msg_id, phone, serial, len(body), total=total, index=index) + body
    )
    msg = decode_frame(raw)
    return msg.header, msg.body


def test_v14_completes_with_its_first_packet():
    second = decode_frame(bytes.fromhex(BY_NAME["V14"].hex))
    first_head, first_body = packet(235, 2, 1, b"A" * 30, msg_id=0x1205, phone="40666575062")
    r = Reassembler()
    assert r.add(first_head, first_body, 0) == (None, [])
    done, expired = r.add(second.header, second.body, 10)
    assert expired == [] and len(r) == 0
    assert done.body == b"A" * 30 + second.body
    assert (done.header.msg_id, done.header.serial, done.header.total) == (0x1205, 235, None)


def test_a_location_split_in_three_out_of_order_decodes():
    from tests.gateway.test_location import body

    whole = body(items={0x01: bytes(4)})
    parts = [whole[:10], whole[10:20], whole[20:]]
    r = Reassembler()
    results = [r.add(*packet(500 + i, 3, i + 1, parts[i]), now_ms=i)[0] for i in (2, 0, 1)]
    assert results[:2] == [None, None]
    msg = decode_body(results[2].header, results[2].body)
    assert msg.fields["location"].items == {0x01: bytes(4)}
    assert results[2].header.serial == 500


def test_a_retransmitted_packet_replaces_the_first_copy():
    r = Reassembler()
    r.add(*packet(10, 2, 1, b"old"), now_ms=0)
    r.add(*packet(10, 2, 1, b"new"), now_ms=1)
    done, _ = r.add(*packet(11, 2, 2, b"!"), now_ms=2)
    assert done.body == b"new!"


def test_serial_wraps_at_65535():
    r = Reassembler()
    r.add(*packet(0xFFFF, 2, 1, b"a"), now_ms=0)
    done, _ = r.add(*packet(0, 2, 2, b"b"), now_ms=1)
    assert done.body == b"ab" and done.header.serial == 0xFFFF


def test_an_incomplete_message_expires_with_its_missing_indices():
    r = Reassembler(timeout_ms=30_000)
    r.add(*packet(100, 4, 2, b"x"), now_ms=1_000)
    r.add(*packet(102, 4, 4, b"z"), now_ms=2_000)
    assert r.expire(30_999) == []
    (gone,) = r.expire(31_000)
    assert (gone.first_serial, gone.missing, gone.msg_id) == (99, [1, 3], 0x0200)
    assert len(r) == 0


def test_a_late_packet_after_expiry_starts_afresh():
    r = Reassembler(timeout_ms=10)
    r.add(*packet(1, 2, 1, b"a"), now_ms=0)
    done, expired = r.add(*packet(2, 2, 2, b"b"), now_ms=10)
    assert done is None and [g.missing for g in expired] == [[2]] and len(r) == 1


def test_open_groups_are_capped_oldest_first():
    r = Reassembler(max_groups=2)
    r.add(*packet(10, 2, 1, b"a"), now_ms=0)
    r.add(*packet(20, 2, 1, b"b"), now_ms=1)
    _, expired = r.add(*packet(30, 2, 1, b"c"), now_ms=2)
    assert [g.first_serial for g in expired] == [10] and len(r) == 2


def test_indices_outside_1_to_total_are_ignored():
    r = Reassembler()
    assert r.add(*packet(1, 2, 0, b"a"), now_ms=0) == (None, [])
    assert r.add(*packet(1, 2, 3, b"a"), now_ms=0) == (None, [])
    assert len(r) == 0


def test_different_terminals_do_not_mix():
    r = Reassembler()
    r.add(*packet(1, 2, 1, b"a", phone="1"), now_ms=0)
    assert r.add(*packet(2, 2, 2, b"b", phone="2"), now_ms=0)[0] is None
    assert len(r) == 2


def test_held_bytes_are_capped_and_counted_back_when_groups_end():
    r = Reassembler(max_bytes=100)
    r.add(*packet(1, 3, 1, b"a" * 60), now_ms=0)
    assert r.held == 60
    _, expired = r.add(*packet(2, 3, 2, b"b" * 60), now_ms=1)  # 120 > 100: dropped
    assert [g.first_serial for g in expired] == [1] and r.held == 0 and len(r) == 0
    r.add(*packet(10, 2, 1, b"c" * 50), now_ms=2)
    r.add(*packet(10, 2, 1, b"d" * 40), now_ms=3)  # a retransmission replaces, not adds
    assert r.held == 40
    done, _ = r.add(*packet(11, 2, 2, b"e" * 10), now_ms=4)
    assert done.body == b"d" * 40 + b"e" * 10 and r.held == 0


@pytest.mark.parametrize("version, count_hex", [("2013", "03"), ("2019", "0003")])
def test_an_expired_group_becomes_a_retransmission_request_in_the_terminal_version(
    version, count_hex
):
    r = Reassembler(timeout_ms=10)
    raw = frame.build(
        header.encode(0x0801, "13912344329", 301, 3, version, total=4, index=2) + b"abc"
    )
    msg = decode_frame(raw)
    r.add(msg.header, msg.body, now_ms=0)
    (gone,) = r.expire(10)
    request = retransmit_request(gone.header, gone.first_serial, gone.missing, serial=5)
    reply = decode_frame(request)
    assert (reply.header.msg_id, reply.header.version, reply.header.serial) == (0x8003, version, 5)
    assert reply.header.phone_bcd == msg.header.phone_bcd
    assert reply.body.hex() == "012c" + count_hex + "000100030004"  # serial 300; 1, 3, 4
    assert reply.fields == {"first_serial": 300, "indices": [1, 3, 4]}
    assert from_dict(to_dict(reply)) == request


def test_the_whole_message_takes_packet_1s_serial_whatever_came_first():
    r = Reassembler()
    second = packet(41, 2, 2, b"b")
    r.add(*second, now_ms=0)
    first_head, first_body = packet(40, 2, 1, b"a")
    done, _ = r.add(first_head, first_body, now_ms=1)
    assert done.header.serial == 40 and done.body == b"ab"


def test_retransmit_request_needs_indices():
    with pytest.raises(CodecError) as info:
        retransmit_request(packet(1, 2, 1, b"a")[0], 1, [], 1)
    assert info.value.reason == "bad_value"
