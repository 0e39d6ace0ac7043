"""Unit tests of the pings record codec (no broker)."""

from __future__ import annotations

import json

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from stream.kafka import codec
from stream.kafka.codec import MAX_PING_BYTES, Decoded, decode_records, fast_ping
from stream.kafka.topics import partition_for
from stream.ping import parse_ping

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
        b'{"vehicle":"V1","ts":1,"lat":NaN,"lng":1}': "non_finite",
        b'{"vehicle":"V1","ts":1,"lat":1e999,"lng":1}': "non_finite",
        b'{"vehicle":"V1","ts":1,"lat":-Infinity,"lng":1}': "non_finite",
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


def test_a_vehicle_on_another_partition_is_misrouted():
    wrong = (partition_for("V1", N) + 1) % N
    out = _decode(orjson.dumps(_ping()), partition=wrong)
    assert [(d.reason, d.vehicle) for d in out.dead] == [("misrouted", "V1")]


def test_bad_elements_of_a_batch_are_refused_alone():
    out = _decode(orjson.dumps([_ping(seq=1), 7, _ping(seq=3, loaded="heavy")]))
    assert [p.seq for p in out.pings] == [1]
    assert [(d.reason, d.index, d.raw) for d in out.dead] == [
        ("not_a_ping", 1, b"7"),
        ("bad_field", 2, orjson.dumps(_ping(seq=3, loaded="heavy"))),
    ]


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
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=8),
    st.sampled_from(["empty", "half", "full", "2025-06-02T18:00:00+08:00", "2025-06-02T18:00:00"]),
)  # fmt: skip
names = st.sampled_from(
    ["vehicle", "ts", "lat", "lng", "speed_kmh", "heading", "acc", "loaded", "lift", "cover_open",
     "backfill", "source", "seq", "other"]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(names, values), st.booleans())
def test_fast_ping_is_parse_ping_or_steps_aside(fields, complete):
    if complete:
        fields = {**_ping(speed_kmh=12.5, seq=3, loaded="full", acc=True), **fields}
    fast = fast_ping(fields, 7)
    if fast is None:
        return  # parse_ping decides (and reports the error)
    assert fast == parse_ping(fields, ref=7)


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
    for big in ({"seq": 10**23}, {"seq": 2**63}, {"ts": 2**63}):
        out = _decode(json.dumps([_ping(**big)]).encode())  # orjson cannot even write 10**23
        assert out.pings == [] and [d.reason for d in out.dead] == ["bad_field"], big
