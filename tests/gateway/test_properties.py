"""Round-trip properties and fuzzing of the frame splitter and decoder (hypothesis).

Fuzzing: whatever bytes arrive, the splitter and the decoder return or raise CodecError, never
another exception, and never hang (each example must finish within hypothesis's deadline).
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway import header, location
from gateway.bcd import TIME_RANGE_MS
from gateway.encoders import encode_frame
from gateway.errors import CodecError
from gateway.frame import FrameSplitter, build
from gateway.jsonview import from_dict, to_dict
from gateway.location import Location
from gateway.messages import decode_frame
from tests.gateway.vectors import NEGATIVES, VECTORS
from tests.gateway.watchdog import watchdog

RAW = [bytes.fromhex(v.hex) for v in VECTORS] + [bytes.fromhex(n.hex) for n in NEGATIVES]

items = st.dictionaries(
    st.integers(0, 255), st.binary(max_size=40), max_size=6
)  # ids unique per position (a dict), as the decoder keeps them
positions = st.builds(
    Location,
    alarm=st.integers(0, 2**32 - 1),
    status=st.integers(0, 2**32 - 1),
    lat=st.integers(-90_000_000, 90_000_000).map(lambda v: v / 1e6),
    lng=st.integers(-180_000_000, 180_000_000).map(lambda v: v / 1e6),
    altitude_m=st.integers(-32768, 32767),
    speed_kmh=st.integers(0, 0xFFFF).map(lambda v: v / 10),
    heading=st.integers(0, 359),
    time_ms=st.integers(TIME_RANGE_MS[0] // 1000, TIME_RANGE_MS[1] // 1000 - 1).map(
        lambda s: s * 1000
    ),
    items=items,
)
phones = st.from_regex(r"[1-9][0-9]{0,11}", fullmatch=True)
versions = st.sampled_from(["2013", "2019"])

# A generous per-example deadline: examples take microseconds, so only an accidentally
# quadratic path reaches it, even on a loaded CI machine (a hang is tests.gateway.watchdog's).
SLOWEST_MS = 2000


def same(a: Location, b: Location) -> bool:
    # -0.0 == 0.0: a zero coordinate has no sign on the wire
    keys = ("alarm", "lat", "lng", "altitude_m", "speed_kmh", "heading", "time_ms", "items")
    return all(getattr(a, k) == getattr(b, k) for k in keys)


@settings(deadline=SLOWEST_MS)
@given(positions, phones, st.integers(0, 0xFFFF), versions, st.integers(0, 255))
def test_location_round_trip(loc, phone, serial, version, protocol_version):
    raw = encode_frame(0x0200, phone, serial, location.encode(loc), version, protocol_version)
    msg = decode_frame(raw)
    back = msg.fields["location"]
    assert (msg.header.phone, msg.header.serial, msg.header.version) == (phone, serial, version)
    assert same(back, loc)
    # status: the sign bits are what the coordinates say; the rest as given
    assert back.status & ~0b1100 == loc.status & ~0b1100
    assert from_dict(to_dict(msg)) == raw


@settings(deadline=SLOWEST_MS)
@given(st.lists(positions, max_size=5), st.sampled_from([0, 1]), versions)
def test_batch_round_trip(batch, kind, version):
    body = location.encode_batch(batch, kind)
    if len(body) > header.MAX_BODY:
        return
    decoded = decode_frame(encode_frame(0x0704, "1", 1, body, version)).fields["batch"]
    assert decoded.backfill == (kind == 1) and decoded.rejected == []
    assert len(decoded.positions) == len(batch)
    assert all(same(a, b) for a, b in zip(decoded.positions, batch, strict=True))


@settings(deadline=SLOWEST_MS)
@given(
    st.integers(0, 0xFFFF),
    phones,
    st.integers(0, 0xFFFF),
    st.binary(max_size=1023),
    versions,
    st.one_of(st.none(), st.tuples(st.integers(0, 0xFFFF), st.integers(0, 0xFFFF))),
)
def test_header_round_trip(msg_id, phone, serial, body, version, sub):
    total, index = sub or (None, None)
    data = header.encode(msg_id, phone, serial, len(body), version, total=total, index=index)
    head = header.parse(data + body + b"\x00")
    assert (head.msg_id, head.phone, head.serial, head.version) == (msg_id, phone, serial, version)
    assert (head.body_len, head.total, head.index, head.warnings) == (len(body), total, index, [])


def decode_anything(raw: bytes, lenient: bool) -> None:
    with watchdog():
        try:
            msg = decode_frame(raw, lenient=lenient)
        except CodecError as exc:
            assert exc.reason and exc.detail
            return
        to_dict(msg)  # the JSON view of whatever decoded must not fail either


def split(data: bytes, **kw) -> list:
    with watchdog():
        return FrameSplitter(**kw).feed(data)


@settings(deadline=SLOWEST_MS, max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=600), st.booleans())
def test_fuzz_random_bytes(data, lenient):
    decode_anything(data, lenient)
    for item in split(data, max_frame=300):
        if isinstance(item, bytes):
            decode_anything(item, lenient)


@settings(deadline=SLOWEST_MS, max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from([0x0001, 0x0002, 0x0100, 0x0102, 0x0200, 0x0704, 0x8001, 0x8100]),
    versions,
    st.binary(max_size=300),
    st.booleans(),
)
def test_fuzz_body_decoders_behind_a_valid_header(msg_id, version, body, lenient):
    # A random body behind a consistent header and checksum reaches the body decoders.
    decode_anything(encode_frame(msg_id, "1", 1, body, version), lenient)


@settings(deadline=SLOWEST_MS, max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(positions, st.binary(min_size=1, max_size=3), st.booleans())
def test_fuzz_location_with_a_cut_item(loc, tail, lenient):
    body = location.encode(loc) + tail  # an item header without its whole value
    decode_anything(encode_frame(0x0200, "1", 1, body), lenient)


@st.composite
def mutated(draw):
    raw = bytearray(draw(st.sampled_from(RAW)))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "cut", "insert", "delete"]))
        pos = draw(st.integers(0, max(0, len(raw) - 1)))
        if op == "flip" and raw:
            raw[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "cut":
            del raw[pos:]
        elif op == "insert":
            raw[pos:pos] = draw(st.binary(min_size=1, max_size=4))
        elif op == "delete" and raw:
            del raw[pos]
    return bytes(raw)


@settings(deadline=SLOWEST_MS, max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(mutated(), st.booleans())
def test_fuzz_mutated_vectors(raw, lenient):
    decode_anything(raw, lenient)
    for item in split(raw):
        if isinstance(item, bytes):
            decode_anything(item, lenient)


@settings(deadline=SLOWEST_MS, max_examples=300)
@given(mutated(), st.booleans())
def test_fuzz_mutated_bodies_with_a_valid_frame_around_them(raw, lenient):
    # The checksum is recomputed, so the mutation reaches the body decoders.
    payload = raw[1:-1] if len(raw) > 2 else raw
    try:
        from gateway.frame import unescape

        payload = unescape(payload.replace(b"\x7e", b""), lenient=True)
    except CodecError:
        return
    decode_anything(build(payload[:-1]), lenient)


# --- more round trips and oracles ------------------------------------------------------------

text = st.text(alphabet="ABCDEFGHJKLMNPQRSTUVWXYZ0123456789-", max_size=5)


@settings(deadline=SLOWEST_MS)
@given(
    st.sampled_from(["2011", "2013", "2019"]),
    st.integers(0, 0xFFFF),
    st.integers(0, 0xFFFF),
    text,
    text,
    text,
    st.integers(0, 9),
    st.text(alphabet="苏锡京沪ABCDEFGHJK0123456789", max_size=17),
)
def test_registration_round_trip(layout, province, city, maker, model, tid, colour, plate):
    from gateway.encoders import registration_body

    version = "2019" if layout == "2019" else "2013"
    body = registration_body(province, city, maker, model, tid, colour, plate, layout)
    fields = decode_frame(encode_frame(0x0100, "1", 1, body, version)).fields
    assert fields == {
        "layout": layout, "province": province, "city": city, "manufacturer": maker,
        "model": model, "terminal_id": tid, "plate_color": colour, "plate": plate,
    }  # fmt: skip


@settings(deadline=SLOWEST_MS)
@given(versions, text, st.text(alphabet="0123456789abcdef", max_size=15), text)
def test_authentication_round_trip(version, code, imei, software):
    from gateway.encoders import authentication_body

    body = authentication_body(code, version, imei, software)
    fields = decode_frame(encode_frame(0x0102, "1", 1, body, version)).fields
    expected = {"auth_code": code}
    if version == "2019":
        expected.update(imei=imei, software_version=software)
    assert fields == expected


@settings(deadline=SLOWEST_MS)
@given(st.integers(0, 0xFFFF), st.integers(0, 0xFFFF), st.integers(0, 4), versions)
def test_general_response_round_trip(ack_serial, ack_id, result, version):
    from gateway.encoders import general_response
    from gateway.header import Header

    req = Header(ack_id, version, "1", bytes(10 if version == "2019" else 6), ack_serial, 0)
    reply = decode_frame(general_response(req, result, 9))
    assert reply.header.version == version and reply.header.serial == 9
    assert reply.fields == {"ack_serial": ack_serial, "ack_msg_id": ack_id, "result": result}


@settings(deadline=SLOWEST_MS)
@given(st.integers(TIME_RANGE_MS[0] // 1000, TIME_RANGE_MS[1] // 1000 - 1))
def test_bcd_time_against_datetime(seconds):
    from datetime import UTC, datetime, timedelta

    from gateway.bcd import encode_time, time_ms

    beijing = datetime.fromtimestamp(seconds, tz=UTC) + timedelta(hours=8)
    raw = encode_time(seconds * 1000)
    assert raw.hex() == beijing.strftime("%y%m%d%H%M%S")
    assert time_ms(raw) == seconds * 1000


@settings(deadline=SLOWEST_MS)
@given(positions, st.booleans(), st.booleans(), st.booleans())
def test_every_ping_parses_cleanly_with_the_engine_parser(loc, gcj02, load_sensor, backfill):
    import orjson

    from gateway.to_ping import Terminal, to_ping
    from stream.ping import parse_ping

    loc.status &= ~(1 << 5)  # encrypted coordinates make no ping (test_to_ping)
    ping = to_ping(loc, Terminal("V1", gcj02, load_sensor), 65535, loc.time_ms, backfill)
    parsed = parse_ping(orjson.dumps(ping))
    assert parsed.warnings is None
    assert (parsed.ts, parsed.seq, parsed.source) == (loc.time_ms, 65535, "jt808")
    assert bool(parsed.backfill) == backfill
