"""Framing: checksum, escaping, and the splitter that turns a TCP stream into frames."""

from __future__ import annotations

from functools import reduce

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from gateway.errors import CodecError
from gateway.frame import MAX_FRAME, FrameSplitter, build, checksum, escape, unescape
from tests.gateway.vectors import VECTORS
from tests.gateway.watchdog import watchdog

FRAMES = [bytes.fromhex(v.hex) for v in VECTORS]

# A generous per-example deadline: examples take microseconds, so only an accidentally
# quadratic path reaches it, even on a loaded CI machine (a hang is tests.gateway.watchdog's).
SLOWEST_MS = 2000


@settings(deadline=SLOWEST_MS)
@given(st.binary(max_size=2100))
def test_checksum_is_the_xor_of_every_byte(data):
    assert checksum(data) == reduce(lambda a, b: a ^ b, data, 0)


@settings(deadline=SLOWEST_MS)
@given(st.binary(max_size=300))
@example(b"\x7d\x02")  # escaped as 7D 01 02: unescaping 7D 02 first would make it 0x7E
@example(b"\x7d\x01")
@example(b"\x7e\x02\x7d\x01\x7d")
def test_escape_round_trips_and_leaves_no_flag(data):
    escaped = escape(data)
    assert 0x7E not in escaped
    assert unescape(escaped) == data


@pytest.mark.parametrize(
    "escaped, plain",
    [("7d0102", "7d02"), ("7d0101", "7d01"), ("7d027d01", "7e7d"), ("7d017d02", "7d7e")],
)
def test_unescape_table(escaped, plain):
    assert unescape(bytes.fromhex(escaped)) == bytes.fromhex(plain)
    assert escape(bytes.fromhex(plain)) == bytes.fromhex(escaped)


@pytest.mark.parametrize(
    "escaped, lenient, reason",
    [
        ("307d03", False, "bad_escape"),
        ("307d03", True, "bad_escape"),  # lenient forgives a bare 7D only as the last byte
        ("307d", False, "bad_escape"),
        ("7d7d01", False, "bad_escape"),
    ],
)
def test_bad_escapes(escaped, lenient, reason):
    with pytest.raises(CodecError) as info:
        unescape(bytes.fromhex(escaped), lenient)
    assert info.value.reason == reason


def test_lenient_bare_escape_at_the_end_is_kept_as_0x7d():
    assert unescape(bytes.fromhex("307d0155007d"), lenient=True) == bytes.fromhex("307d55007d")


def test_build_appends_the_checksum_and_escapes_it():
    # V03: a heartbeat whose checksum is 0x7E goes out as 7D 02.
    assert build(bytes.fromhex("00020000040021679287002B")) == FRAMES[2]


# --- the splitter ----------------------------------------------------------------------------


def split_all(chunks, **kw):
    splitter = FrameSplitter(**kw)
    out = []
    with watchdog():
        for chunk in chunks:
            out += splitter.feed(chunk)
    return out, splitter


def test_several_frames_in_one_read_and_garbage_before_the_first_flag():
    stream = b"\x24\x24junk" + b"".join(FRAMES)
    out, splitter = split_all([stream])
    assert out == [f[1:-1] for f in FRAMES]
    assert splitter.skipped == 6 and splitter.pending == 0


@settings(deadline=SLOWEST_MS)
@given(st.lists(st.integers(min_value=0, max_value=1500), max_size=12))
def test_any_cut_of_the_stream_gives_the_same_frames(cuts):
    stream = b"\x00\x01" + b"".join(FRAMES)
    points = sorted({min(c, len(stream)) for c in cuts})
    chunks = [stream[a:b] for a, b in zip([0, *points], [*points, len(stream)], strict=True)]
    out, _ = split_all(chunks)
    assert out == [f[1:-1] for f in FRAMES]


def test_byte_by_byte():
    out, _ = split_all([bytes([b]) for b in b"".join(FRAMES)])
    assert out == [f[1:-1] for f in FRAMES]


def test_shared_and_doubled_flags():
    a, b = FRAMES[3][1:-1], FRAMES[4][1:-1]
    out, _ = split_all([b"\x7e" + a + b"\x7e" + b + b"\x7e\x7e\x7e"])
    assert out == [a, b]


def test_an_overlong_frame_is_reported_once_and_the_next_frame_survives():
    good = FRAMES[3]
    out, splitter = split_all([b"\x7e" + b"\x01" * 500, b"\x02" * 500, good], max_frame=600)
    assert [type(x) for x in out] == [CodecError, bytes]
    assert out[0].reason == "too_long" and out[1] == good[1:-1]
    assert splitter.pending == 0 and splitter.skipped == 1000


def test_memory_stays_bounded_without_any_flag():
    splitter = FrameSplitter()
    for _ in range(100):
        splitter.feed(b"\x00" * 1000)
    assert splitter.pending == 0 and splitter.skipped == 100_000
    splitter.feed(b"\x7e" + b"\x00" * 10_000)
    assert splitter.pending == 0  # over the cap: dropped, not held


def test_default_cap_fits_the_longest_legal_frame():
    from gateway import header

    body = b"\x7e" * 1023  # every byte escaped
    raw = build(header.encode(0x0900, "1" * 20, 1, 1023, "2019", total=2, index=1) + body)
    out, _ = split_all([raw])
    assert len(raw) <= MAX_FRAME + 2 and out == [raw[1:-1]]
