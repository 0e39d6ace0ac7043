"""Parsing pings: the one contract (stream.ping.FIELDS), times, numeric strings, warnings, errors.

Each table is a situation a terminal or gateway sends (issue 11): a number as text, a bad
optional field that must not cost the position, a required field that must refuse the ping and
still say whose it was.
"""

from __future__ import annotations

import dataclasses
import math
from datetime import datetime

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geofence.datum import transform
from stream import eventtime
from stream.eventtime import BEIJING, MAX_MS, iso_ts, parse_ts
from stream.ping import FIELDS, Ping, parse_ping, read_ping
from stream.wire_values import PingError

BASE = {"vehicle": "M1", "ts": "2025-06-01T21:30:05+08:00", "lat": 31.5, "lng": 120.3}
TS = 1748784605000  # 2025-06-01T13:30:05Z
REQUIRED = [f.name for f in FIELDS if f.required]
WARNED = [f.name for f in FIELDS if not f.required and not f.error]


def test_minimal_ping():
    p = parse_ping(BASE)
    assert (p.vehicle, p.ts, p.lat, p.lng) == ("M1", TS, 31.5, 120.3)
    assert p.speed_kmh is None and p.loaded is None and p.backfill is None
    assert p.warnings is None and p.received is None


def test_all_fields_from_json_bytes():
    line = (
        b'{"vehicle":"M1","ts":1748784605000,"lat":31.5,"lng":120,"speed_kmh":42.5,'
        b'"heading":90,"acc":true,"loaded":"half","lift":false,"cover_open":true,'
        b'"backfill":true,"source":"jt808","seq":17,"received":"2025-06-01T21:30:07+08:00"}'
    )
    p = parse_ping(line, ref=3)
    assert p == Ping(
        "M1", TS, 31.5, 120.0, 42.5, 90.0, True, "half", False, True, True, "jt808", 17,
        TS + 2000, 3,
    )  # fmt: skip
    assert isinstance(p.lng, float)


def test_ping_holds_the_declared_fields_in_order():
    """Ping is the declaration's parsed form: every wire field kept on a ping, in order."""
    own = [f.name for f in dataclasses.fields(Ping) if f.name not in ("ref", "warnings")]
    assert own == [f.name for f in FIELDS if f.on_ping]
    assert REQUIRED == ["vehicle", "ts", "lat", "lng"]
    assert [f.name for f in FIELDS if f.error] == ["datum"]


# -- time: one parser, one rule ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("2025-06-01T21:30:05+08:00", TS),
        ("2025-06-01T13:30:05Z", TS),
        ("2025-06-01T13:30:05.250+00:00", TS + 250),
        # fractions of a millisecond are truncated toward the past, never rounded
        ("2025-06-01T13:30:05.2509+00:00", TS + 250),
        ("2025-06-01T13:30:05.999999+00:00", TS + 999),
        ("1970-01-01T00:00:00.0009+00:00", 0),
        (TS, TS),
        (float(TS), TS),  # an integral float is an integer
        (str(TS), TS),  # digits only: epoch ms
        ("1.748784605e12", TS),
        (0, 0),
        (MAX_MS, MAX_MS),
        ("9999-12-31T23:59:59.999+00:00", MAX_MS),
        (1_717_000_000, 1_717_000_000),  # epoch seconds reach the engine unchanged (hygiene)
    ],
)
def test_timestamps(text, ms):
    assert parse_ts(text) == ms


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (1.5, "integer"),  # fractional milliseconds are refused, not rounded
        (TS + 0.5, "integer"),
        ("1748784605000.5", "integer"),
        (-1, "1970..9999"),
        (MAX_MS + 1, "1970..9999"),
        (2**63, "1970..9999"),
        ("1969-12-31T23:59:59.999+00:00", "1970..9999"),
        ("2025-06-01T21:30:05", "offset"),
        ("yesterday", "ISO 8601"),
        (True, "epoch milliseconds"),
        (math.nan, "integer"),
        ([TS], "epoch milliseconds"),
    ],
)
def test_bad_times_are_refused_naming_the_value(value, words):
    with pytest.raises(PingError) as err:
        parse_ts(value, "received")
    assert err.value.detail.startswith("received: ") and words in err.value.detail
    assert repr(value)[:20] in err.value.detail
    assert err.value.field == "received" and isinstance(err.value, ValueError)


def test_eventtime_has_the_same_parser():
    assert eventtime.parse_ts is parse_ts
    with pytest.raises(ValueError, match="integer"):
        eventtime.parse_ts(1.5)


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        (1_748_784_605_250, "2025-06-01T21:30:05.250+08:00"),
        (243_008_789_341_352, "9670-08-23T01:29:01.352+08:00"),  # float division said .351
        (MAX_MS - 9 * 3600_000, "9999-12-31T22:59:59.999+08:00"),
        (0, "1970-01-01T08:00:00+08:00"),
    ],
)
def test_eventtime_formats_exactly_and_back(ms, text):
    assert eventtime.to_iso(ms) == text and parse_ts(text) == ms


@pytest.mark.parametrize("ms", [MAX_MS, MAX_MS - 8 * 3600_000 + 1, MAX_MS + 1, -1])
def test_eventtime_refuses_what_no_calendar_holds_with_a_value_error(ms):
    """The last 8 hours of 9999 (UTC) are the year 10000 in Beijing: a ValueError (callers catch
    that), not the OverflowError datetime raises."""
    with pytest.raises(ValueError, match=str(ms)):
        eventtime.to_iso(ms)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, MAX_MS - 8 * 3600_000))
def test_eventtime_round_trips_every_millisecond(ms):
    assert parse_ts(eventtime.to_iso(ms)) == ms


# -- numeric strings ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "name", "value"),
    [
        ({"speed_kmh": "42.5"}, "speed_kmh", 42.5),
        ({"lat": "31.5"}, "lat", 31.5),
        ({"lng": "-120"}, "lng", -120.0),
        ({"heading": "90"}, "heading", 90.0),
        ({"seq": "17"}, "seq", 17),
        ({"seq": "9007199254740993"}, "seq", 2**53 + 1),  # digits are read exactly, not as a float
        ({"seq": 17.0}, "seq", 17),
        ({"ts": "1717000000000"}, "ts", 1_717_000_000_000),
        ({"received": "1748784606000"}, "received", TS + 1000),
        ({"speed_kmh": "4.25e1"}, "speed_kmh", 42.5),
    ],
)
def test_a_numeric_string_is_a_number(change, name, value):
    p = parse_ping({**BASE, **change})
    assert getattr(p, name) == value and type(getattr(p, name)) is type(value)
    assert p.warnings is None


# -- a bad optional field: dropped with a warning, the position kept ---------------------------

BAD_OPTIONAL = {
    "speed_kmh": "fast",
    "heading": [],
    "acc": "on",
    "loaded": "maybe",
    "lift": "yes",
    "cover_open": 1,
    "backfill": "no",
    "source": 5,
    "seq": 1.5,
    "received": "yesterday",
}


def test_every_optional_field_has_a_bad_case():
    assert sorted(BAD_OPTIONAL) == sorted(WARNED)


@pytest.mark.parametrize(("name", "value"), BAD_OPTIONAL.items())
def test_a_bad_optional_field_is_dropped_with_a_warning(name, value):
    p = parse_ping(
        {**BASE, name: value, "speed_kmh": 30.0} if name != "speed_kmh" else {**BASE, name: value}
    )
    assert (p.vehicle, p.ts, p.lat, p.lng) == ("M1", TS, 31.5, 120.3)  # the position kept
    assert getattr(p, name) is None
    (warning,) = p.warnings
    assert warning.startswith(f"{name}: expected ") and repr(value) in warning
    assert p.to_dict()["warnings"] == [warning]


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"seq": 2**63}, "64-bit"),
        ({"seq": "1e30"}, "integer"),
        ({"seq": True}, "integer"),  # a bool is no number, though Python calls it an int
        ({"speed_kmh": "1e999"}, "number"),  # a string is a finite number or no number
        ({"speed_kmh": "42 km/h"}, "number"),
        ({"heading": True}, "number"),
        ({"received": 1.5}, "integer"),
    ],
)
def test_more_bad_optional_values(change, words):
    p = parse_ping({**BASE, **change})
    (name,) = change
    assert getattr(p, name) is None and words in p.warnings[0]


@pytest.mark.parametrize(
    ("received", "kept"),
    [
        (1748860000, None),  # epoch seconds of 2025: a gateway stamping seconds
        ("1748860000", None),  # the same as a numeric string
        (946_684_800, None),  # seconds of 2000-01-01, the first read as seconds
        (99_999_999_999, None),  # the last read as seconds (5138)
        (100_000_000_000, 100_000_000_000),  # milliseconds of 1973: kept, the engine judges
        (946_684_799, 946_684_799),  # milliseconds of 1970-01-11: kept
        (1748860000000, 1748860000000),
    ],
)
def test_a_received_stamp_in_epoch_seconds_is_dropped_with_a_warning(received, kept):
    """Issue 11: read as milliseconds, a received stamp in seconds dates the reception in 1970,
    and every ping of the gateway was a filter_future "20,000 days ahead of its receive time".
    Dropped with a warning naming epoch seconds: the vehicle's own history judges the ping."""
    p = parse_ping({**BASE, "received": received})
    assert p.received == kept and (p.ts, p.lat, p.lng) == (TS, BASE["lat"], BASE["lng"])
    if kept is None:
        assert p.warnings == (
            f"received: expected epoch milliseconds, got epoch seconds {received!r}",
        )
    else:
        assert p.warnings is None


def test_a_ts_in_epoch_seconds_parses_for_the_hygiene_to_name():
    p = parse_ping({**BASE, "ts": 1748860000})
    assert p.ts == 1748860000 and p.warnings is None


def test_warnings_are_listed_in_the_declared_order_and_on_the_dict():
    p = parse_ping({**BASE, "lift": "yes", "speed_kmh": "fast", "seq": 3})
    assert p.warnings == (
        "speed_kmh: expected a number, got 'fast'",
        "lift: expected true or false, got 'yes'",
    )
    assert p.seq == 3
    assert p.to_dict()["warnings"] == list(p.warnings)


# -- a bad required field: bad_field, the field, the value, and the vehicle when it parsed -----


@pytest.mark.parametrize(
    ("change", "field", "shown"),
    [
        ({"ts": "2025-06-01T21:30:05"}, "ts", "'2025-06-01T21:30:05'"),  # no offset
        ({"ts": "yesterday"}, "ts", "'yesterday'"),
        ({"ts": True}, "ts", "True"),
        ({"ts": 1.5}, "ts", "1.5"),
        ({"ts": None}, "ts", "null"),
        ({"lat": "north"}, "lat", "'north'"),
        ({"lng": None}, "lng", "null"),
        ({"lat": False}, "lat", "False"),
        ({"lat": "1e999"}, "lat", "'1e999'"),
        ({"datum": "osgb36"}, "datum", "'osgb36'"),  # the coordinates would be wrong
        ({"datum": 4326}, "datum", "4326"),
    ],
)
def test_a_bad_required_field_refuses_the_ping_keeping_the_vehicle(change, field, shown):
    with pytest.raises(PingError) as err:
        parse_ping({**BASE, **change})
    assert (err.value.reason, err.value.field, err.value.vehicle) == ("bad_field", field, "M1")
    assert err.value.detail.startswith(f"{field}: ") and shown in err.value.detail


@pytest.mark.parametrize("name", REQUIRED[1:])
def test_a_missing_required_field(name):
    with pytest.raises(PingError, match=f"{name}: required, missing") as err:
        parse_ping({k: v for k, v in BASE.items() if k != name})
    assert err.value.vehicle == "M1"


@pytest.mark.parametrize(("vehicle", "shown"), [("", "''"), (7, "7"), (None, "None")])
def test_a_bad_vehicle_has_no_vehicle(vehicle, shown):
    with pytest.raises(PingError) as err:
        parse_ping({**BASE, "vehicle": vehicle, "lat": "north"})
    assert (err.value.field, err.value.vehicle) == ("vehicle", None)
    assert err.value.detail == f"vehicle: expected a non-empty string, got {shown}"


@pytest.mark.parametrize("text", [b"{not json", b"[1, 2]", b"NaN", b""])
def test_bad_json(text):
    with pytest.raises(PingError) as err:
        parse_ping(text)
    assert err.value.reason == "bad_json" and err.value.vehicle is None
    assert repr(text)[:8] in err.value.detail


def test_a_long_bad_value_is_cut_short_in_the_detail():
    p = parse_ping({**BASE, "source": ["x" * 5000]})
    assert len(p.warnings[0]) < 100 and p.warnings[0].endswith("…")


# -- the rest of the contract ------------------------------------------------------------------


def test_non_finite_coordinates_parse_for_hygiene_to_reject():
    p = parse_ping({**BASE, "lat": math.inf})
    assert math.isinf(p.lat)


@pytest.mark.parametrize("datum", ["gcj02", "bd09"])
def test_datum_is_converted_to_wgs84_once(datum):
    lng, lat = transform(120.3, 31.5, "wgs84", datum)
    p = parse_ping({**BASE, "lat": lat, "lng": lng, "datum": datum})
    assert abs(p.lat - 31.5) < 1e-6 and abs(p.lng - 120.3) < 1e-6  # within 10 cm
    as_sent, said = read_ping({**BASE, "lat": lat, "lng": lng, "datum": datum})
    assert (as_sent.lat, as_sent.lng, said) == (lat, lng, datum)


def test_iso_ts_is_beijing_time_with_millis_only_when_set():
    assert iso_ts(TS) == "2025-06-01T21:30:05+08:00"
    assert iso_ts(TS + 7) == "2025-06-01T21:30:05.007+08:00"
    assert iso_ts(None) is None
    assert parse_ts(iso_ts(TS + 7)) == TS + 7


@given(st.integers(0, 4 * 10**12))
def test_iso_ts_agrees_with_datetime(ms):
    """The cached fast formatting against the standard library (a slow oracle)."""
    moment = datetime.fromtimestamp(ms / 1000, BEIJING).replace(microsecond=(ms % 1000) * 1000)
    expected = moment.isoformat(timespec="milliseconds").replace(".000+", "+")
    assert iso_ts(ms) == expected
    assert parse_ts(iso_ts(ms)) == ms


def test_to_dict_round_trips():
    p = parse_ping({**BASE, "seq": 3, "loaded": "full", "cover_open": False, "received": TS}, ref=9)
    assert parse_ping(p.to_dict(), ref=9) == p
    assert "speed_kmh" not in p.to_dict() and "warnings" not in p.to_dict()
    assert p.to_dict()["received"] == TS


odd_values = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(), st.text(max_size=6),
    st.lists(st.integers(), max_size=2),
    st.sampled_from(["42.5", "-3", "1e3", "17", "half", "bd09", "2025-06-02T18:00:00+08:00"]),
)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.sampled_from(WARNED), odd_values))
def test_optional_fields_never_cost_the_position(extra):
    """Whatever the optional fields hold, the ping parses; each one sent is kept or warned of."""
    p = parse_ping({**BASE, **extra})
    assert (p.vehicle, p.ts, p.lat, p.lng) == ("M1", TS, 31.5, 120.3)
    warned = [w.split(":")[0] for w in p.warnings or ()]
    for name, value in extra.items():
        kept = getattr(p, name) is not None
        assert kept != (name in warned) or value is None, (name, value, p)
    assert warned == [n for n in WARNED if n in warned]  # declared order, once each


# -- issue 11 review: non-finite numbers, the round trip, the field of a warning -------------


@pytest.mark.parametrize(
    ("text", "field", "shown"),
    [
        (b'"speed_kmh":1e400', "speed_kmh", "inf"),  # too large for a float
        (b'"speed_kmh":NaN', "speed_kmh", "nan"),  # what many encoders write for a NaN
        (b'"heading":-Infinity', "heading", "-inf"),
    ],
)
def test_a_non_finite_optional_number_is_a_warning_the_position_kept(text, field, shown):
    line = b'{"vehicle":"M1","ts":1748784605000,"lat":31.5,"lng":120.3,' + text + b"}"
    p = parse_ping(line)
    assert (p.vehicle, p.lat, p.lng, getattr(p, field)) == ("M1", 31.5, 120.3, None)
    assert p.warnings == (f"{field}: expected a finite number, got {shown}",)
    assert p.warned_fields() == [field]
    assert parse_ping({**BASE, field: float(shown)}).warnings == p.warnings  # as a dict too


def test_a_non_finite_coordinate_in_the_text_parses_for_hygiene_with_its_vehicle():
    p = parse_ping(b'{"vehicle":"M1","ts":1748784605000,"lat":NaN,"lng":120.3}')
    assert p.vehicle == "M1" and math.isnan(p.lat)
    with pytest.raises(PingError) as err:
        parse_ping(b'{"vehicle":"M1","ts":NaN,"lat":31.5,"lng":120.3}')
    assert (err.value.reason, err.value.vehicle) == ("bad_field", "M1")


@pytest.mark.parametrize(
    "text",
    [b'{"vehicle":"M1","ts":1,"lat":nan,"lng":1}', b'{"vehicle":"M1","ts":1,"lat":NaN,"lng":1,}'],
)
def test_other_non_json_stays_bad_json(text):
    with pytest.raises(PingError) as err:
        parse_ping(text)
    assert err.value.reason == "bad_json"


def test_a_ping_with_warnings_round_trips_through_its_dict():
    """Issue 11: ``Ping(**d)`` gave ``warnings`` back as a list (a checkpoint's held pings)."""
    p = parse_ping({**BASE, "lift": 1, "speed_kmh": "fast", "seq": 4}, ref=9)
    assert p.warned_fields() == ["speed_kmh", "lift"]
    back = Ping.from_dict(orjson.loads(orjson.dumps(p.to_dict())))
    assert back == p and isinstance(back.warnings, tuple)
    assert Ping.from_dict(parse_ping(BASE).to_dict()) == parse_ping(BASE)
