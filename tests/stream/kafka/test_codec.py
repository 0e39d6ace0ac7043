"""Unit tests of the pings record codec (no broker)."""

from __future__ import annotations

import dataclasses
import json
import math

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stream.kafka import codec
from stream.kafka.codec import MAX_PING_BYTES, Decoded, decode_records
from stream.kafka.topics import partition_for
from stream.ping import FIELDS, parse_ping
from stream.wire_values import PingError

N = 4


def _ping(vehicle="V1", **extra):
    return {"vehicle": vehicle, "ts": 1748860000000, "lat": 31.5, "lng": 120.3, **extra}


def _decode(*values, partition=None, vehicle="V1"):
    p = partition_for(vehicle, N) if partition is None else partition
    return decode_records([(p, i, v) for i, v in enumerate(values)], N)


def test_one_ping_and_a_batch_give_the_pings_in_order_with_offsets_as_ref():
    one = orjson.dumps(_ping(seq=1))
    batch = orjson.dumps([_ping(seq=2), _ping(seq=3)])
    out = _decode(one, batch)
    assert [(p.seq, p.ref) for p in out.pings] == [(1, 0), (2, 1), (3, 1)]
    assert out.dead == []
    assert out.raw == {0: one}  # a single-ping record keeps its bytes for a later rejection


def test_each_bad_record_gets_its_reason():
    cases = {
        b"": "empty",
        b"{oops": "bad_json",
        b"\xff\xfe": "bad_json",
        b'{"vehicle":"V1","ts":1,"lat":nan,"lng":1}': "non_finite",
        b'{"vehicle":"V1","ts":1,"lat":inf,"lng":1}': "non_finite",
        b'{"vehicle":"V1","ts":1,"lat":-inf,"lng":1}': "non_finite",
        b"42": "not_a_ping",
        b"[]": "not_a_ping",
        orjson.dumps(_ping(pad="x" * MAX_PING_BYTES)): "too_large",
        orjson.dumps(_ping(lat="north")): "bad_field",
        orjson.dumps(_ping(datum="utm")): "bad_field",
        orjson.dumps({"ts": 1, "lat": 1, "lng": 1}): "bad_field",
    }
    out = _decode(*cases)
    assert out.pings == []
    assert [d.reason for d in out.dead] == list(cases.values())
    assert [d.raw for d in out.dead] == list(cases)  # original bytes
    assert [d.offset for d in out.dead] == list(range(len(cases)))
    assert all(d.detail for d in out.dead)


@pytest.mark.parametrize(
    ("text", "warnings"),
    [
        (b'"speed_kmh":1e400', ["speed_kmh: expected a finite number, got inf"]),
        (b'"speed_kmh":NaN', ["speed_kmh: expected a finite number, got nan"]),
        (b'"heading":-Infinity', ["heading: expected a finite number, got -inf"]),
        (b'"speed_kmh":Infinity,"lift":1', [
            "speed_kmh: expected a finite number, got inf", "lift: expected true or false, got 1",
        ]),
    ],
)  # fmt: skip
def test_a_non_finite_optional_field_is_a_warning_the_position_kept(text, warnings):
    """Issue 11: a record with ``"speed_kmh": 1e400`` or ``NaN`` was dead-lettered whole as
    ``non_finite``, vehicle and position lost, where parse_ping drops a bad optional field."""
    value = b'{"vehicle":"V1","ts":1748860000000,"lat":31.5,"lng":120.3,' + text + b"}"
    for record in (value, b"[" + value + b"]"):
        out = _decode(record)
        assert out.dead == [], record
        assert [(p.vehicle, p.lat, p.lng, p.warnings) for p in out.pings] == [
            ("V1", 31.5, 120.3, tuple(warnings))
        ]
        assert out.pings == [parse_ping(value, ref=0)]


def test_a_non_finite_coordinate_is_left_to_the_engine_with_its_vehicle():
    out = _decode(b'{"vehicle":"V1","ts":1748860000000,"lat":NaN,"lng":120.3}')
    assert out.dead == [] and [p.vehicle for p in out.pings] == ["V1"]
    assert math.isnan(out.pings[0].lat)  # the engine's hygiene rejects it: filter_non_finite
    out = _decode(b'{"vehicle":"V1","ts":NaN,"lat":31.5,"lng":120.3}')
    assert [(d.reason, d.vehicle) for d in out.dead] == [("bad_field", "V1")]


def test_a_vehicle_on_another_partition_is_misrouted():
    wrong = (partition_for("V1", N) + 1) % N
    out = _decode(orjson.dumps(_ping()), partition=wrong)
    assert [(d.reason, d.vehicle) for d in out.dead] == [("misrouted", "V1")]


def test_bad_elements_of_a_batch_are_refused_alone():
    out = _decode(orjson.dumps([_ping(seq=1), 7, _ping(seq=3, lat="north"), _ping(loaded="heavy")]))
    assert [(p.seq, p.loaded, p.warnings) for p in out.pings] == [
        (1, None, None),
        (None, None, ("loaded: expected one of empty|half|full, got 'heavy'",)),  # kept
    ]
    assert [(d.reason, d.index, d.raw, d.vehicle) for d in out.dead] == [
        ("not_a_ping", 1, b"7", None),
        ("bad_field", 2, orjson.dumps(_ping(seq=3, lat="north")), "V1"),
    ]


@pytest.mark.parametrize(
    ("fields", "vehicle"),
    [
        ({"lat": "north"}, "V1"),
        ({"ts": 1.5}, "V1"),
        ({"ts": "2025-06-02T18:00:00"}, "V1"),
        ({"datum": "utm"}, "V1"),  # the codec's datum check is parse_ping's
        ({"vehicle": ""}, None),
        ({"vehicle": 42}, None),
    ],
)
def test_a_bad_field_dead_letter_keeps_the_vehicle_when_it_parsed(fields, vehicle):
    for value in (orjson.dumps(_ping(**fields)), orjson.dumps([_ping(**fields)])):
        out = _decode(value)
        with pytest.raises(PingError) as err:
            parse_ping(_ping(**fields))
        assert out.pings == []
        assert [(d.reason, d.detail, d.vehicle) for d in out.dead] == [
            ("bad_field", err.value.detail, vehicle)
        ]


@pytest.mark.parametrize(
    ("fields", "expect"),
    [
        ({"speed_kmh": "42.5", "seq": "17"}, {"speed_kmh": 42.5, "seq": 17}),
        ({"ts": "1748860000000", "lat": "31.5"}, {"ts": 1748860000000, "lat": 31.5}),
        ({"received": "2025-06-02T18:26:40.0009+08:00"}, {"received": 1748860000000}),
        ({"received": 1748860000500}, {"received": 1748860000500}),
        ({"ts": 1717000000}, {"ts": 1717000000}),  # epoch seconds: unchanged, hygiene names them
    ],
)
def test_numeric_strings_and_received_on_both_paths(fields, expect):
    for value in (orjson.dumps(_ping(**fields)), orjson.dumps([_ping(**fields), _ping()])):
        (ping, *_), dead = _decode(value).pings, _decode(value).dead
        assert dead == [] and ping.warnings is None
        assert {k: getattr(ping, k) for k in expect} == expect


@pytest.mark.parametrize("received", [1748860000, "1748860000", 1748860000000])
def test_a_received_stamp_in_epoch_seconds_is_a_warning_on_both_paths(received):
    """Issue 11: a gateway stamping seconds must not date every ping's reception in 1970 (all
    of them then filter_future): the typed decoder leaves such a stamp to stream.ping, which
    drops it with a warning, as parse_ping does; milliseconds stay on the fast path."""
    fields = _ping(received=received)
    expected = parse_ping(fields, ref=0)
    p = partition_for("V1", N)
    for value in (orjson.dumps(fields), orjson.dumps([fields, _ping(ts=1748860001000)])):
        out = _decode(value)
        assert out.dead == [] and out.pings[0] == expected
        assert out == _general([value], p)
        taken = codec._decode_typed(p, 0, value, N, Decoded(), [])
        assert taken is (expected.warnings is None)
    if expected.warnings is not None:
        assert expected.received is None and "epoch seconds" in expected.warnings[0]


def test_received_survives_an_encode_decode_round_trip():
    """A ping written by landun (to_dict, encode_batch) comes back the same through Kafka."""
    sent = parse_ping(_ping(seq=4, loaded="full", received="2025-06-02T18:26:41.250+08:00"))
    assert sent.received == 1748860001250
    wire = {k: v for k, v in sent.to_dict().items() if k != "ref"}
    value = codec.encode_batch([wire, wire])
    typed = Decoded()
    assert codec._decode_typed(partition_for("V1", N), 5, value, N, typed, [])  # fast path
    assert typed.pings == [dataclasses.replace(sent, ref=5)] * 2
    assert _general([value], partition_for("V1", N)).pings == [dataclasses.replace(sent, ref=0)] * 2


coords = st.tuples(st.floats(18.0, 53.0, allow_nan=False), st.floats(74.0, 134.0, allow_nan=False))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(coords, st.sampled_from(["gcj02", "bd09", "wgs84"])), min_size=1))
def test_batch_datum_conversion_equals_parse_ping_bit_for_bit(points):
    pings = [_ping(lat=lat, lng=lng, datum=d, seq=i) for i, ((lat, lng), d) in enumerate(points)]
    out = _decode(orjson.dumps(pings))
    alone = [parse_ping(p) for p in pings]
    assert [(p.lat, p.lng) for p in out.pings] == [(p.lat, p.lng) for p in alone]


values = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**40), 2**40), st.integers(2**62, 2**64 - 1),
    st.integers(0, 253_402_300_799_999), st.floats(),
    st.sampled_from([math.nan, math.inf, -math.inf]),  # not JSON, yet sent (issue 11)
    st.text(max_size=8), st.lists(st.integers(-5, 5), max_size=1),
    st.sampled_from(["empty", "half", "full", "gcj02", "bd09", "wgs84", "utm", "42.5", "17",
                     "1748860000000", "-3e1", "2025-06-02T18:00:00+08:00", "2025-06-02T18:00:00",
                     "2025-06-02T18:00:00.0005Z"]),
)  # fmt: skip
# Every declared wire field (stream.ping.FIELDS, so a new field is covered) and an unknown one.
names = st.sampled_from([f.name for f in FIELDS] + ["other"])


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(names, values), st.booleans())
def test_the_codec_gives_what_parse_ping_gives(fields, complete):
    """One ping per record, through the whole codec, against parse_ping: the same Ping (with
    its warnings), or a dead letter with parse_ping's reason, detail and vehicle. The records
    are written as Python's json writes them: a non-finite float as ``NaN``/``Infinity``, which
    is not JSON but must cost no more than parse_ping makes it cost (issue 11)."""
    if complete:
        fields = {**_ping(speed_kmh=12.5, seq=3, loaded="full", acc=True), **fields}
    vehicle = fields.get("vehicle")
    home = partition_for(vehicle if isinstance(vehicle, str) else "", N)
    text = json.dumps(fields).encode()
    for value in (text, b"[" + text + b"]"):
        out = decode_records([(home, 7, value)], N)
        try:
            expected = parse_ping(fields, ref=7)
        except PingError as exc:
            assert out.pings == []
            assert [(d.reason, d.detail, d.vehicle) for d in out.dead] == [
                (exc.reason, exc.detail, exc.vehicle)
            ]
        else:
            assert out.dead == []
            assert [repr(p) for p in out.pings] == [repr(expected)]  # NaN != NaN: compare reprs
            assert repr(parse_ping(text, ref=7)) == repr(expected)


def _general(values_, partition):
    """The records through the general path only (orjson + per-field checks)."""
    out, converts = Decoded(), []
    for offset, value in enumerate(values_):
        codec._decode(partition, offset, value, N, out, converts)
    codec.to_wgs84(converts)
    return out


record_pings = st.lists(
    st.one_of(
        st.dictionaries(names, values),
        st.builds(lambda extra: {**_ping(speed_kmh=12.5, seq=3, loaded="full"), **extra},
                  st.dictionaries(names, values, max_size=2)),
        st.builds(lambda d: _ping(datum=d), st.sampled_from(["gcj02", "bd09", "wgs84", "utm"])),
    ),
    min_size=0, max_size=4,
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(record_pings, st.booleans()), min_size=1, max_size=3))
def test_typed_decoding_equals_the_general_path(records):
    # Records as batches (a JSON array) or, for one ping, a single object; the typed fast path
    # (msgspec) must give exactly the pings, raw bytes and dead letters of the general path.
    values_ = [
        orjson.dumps(pings[0] if single and len(pings) == 1 else pings) for pings, single in records
    ]
    p = partition_for("V1", N)
    fast = decode_records([(p, i, v) for i, v in enumerate(values_)], N)
    assert fast == _general(values_, p)


def test_typed_path_takes_the_common_records():
    iso = "2025-06-02T18:00:00+08:00"
    batch = orjson.dumps([_ping(seq=1), _ping(seq=2, ts=iso, datum="gcj02")])
    out, converts = Decoded(), []
    assert codec._decode_typed(partition_for("V1", N), 0, batch, N, out, converts)
    assert [p.seq for p in out.pings] == [1, 2] and len(converts) == 1
    # anything unusual is left to the general path, untouched
    for odd in (b"{oops", orjson.dumps([_ping(other=1)]), orjson.dumps([_ping(lat=True)])):
        out = Decoded()
        assert not codec._decode_typed(partition_for("V1", N), 0, odd, N, out, [])
        assert out == Decoded()
    empty = orjson.dumps([_ping(vehicle="")])
    assert not codec._decode_typed(partition_for("", N), 0, empty, N, Decoded(), [])


def test_integers_beyond_64_bits_are_refused_on_both_paths():
    for big in ({"ts": 2**63}, {"ts": 10**23}):
        out = _decode(json.dumps([_ping(**big)]).encode())  # orjson cannot even write 10**23
        assert out.pings == [] and [d.reason for d in out.dead] == ["bad_field"], big
    for big in ({"seq": 10**23}, {"seq": 2**63}, {"received": 2**63}):  # optional: a warning
        out = _decode(json.dumps([_ping(**big)]).encode())
        assert out.dead == [] and [p.warnings is not None for p in out.pings] == [True], big
