"""Unit tests of the pings record codec (no broker)."""

from __future__ import annotations

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from stream.kafka.codec import MAX_PING_BYTES, decode_records, fast_ping
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
    st.none(), st.booleans(), st.integers(-(2**40), 2**40),
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
