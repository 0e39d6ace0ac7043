"""Parsing pings: types, timestamps, datums, precise errors."""

from __future__ import annotations

import math
from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from geofence.datum import transform
from stream.ping import BEIJING, Ping, PingError, iso_ts, parse_ping, parse_ts

BASE = {"vehicle": "M1", "ts": "2025-06-01T21:30:05+08:00", "lat": 31.5, "lng": 120.3}
TS = 1748784605000  # 2025-06-01T13:30:05Z


def test_minimal_ping():
    p = parse_ping(BASE)
    assert (p.vehicle, p.ts, p.lat, p.lng) == ("M1", TS, 31.5, 120.3)
    assert p.speed_kmh is None and p.loaded is None and p.backfill is None


def test_all_fields_from_json_bytes():
    line = (
        b'{"vehicle":"M1","ts":1748784605000,"lat":31.5,"lng":120,"speed_kmh":42.5,'
        b'"heading":90,"acc":true,"loaded":"half","lift":false,"cover_open":true,'
        b'"backfill":true,"source":"jt808","seq":17}'
    )
    p = parse_ping(line, ref=3)
    assert p == Ping(
        "M1", TS, 31.5, 120.0, 42.5, 90.0, True, "half", False, True, True, "jt808", 17, 3
    )
    assert isinstance(p.lng, float)


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("2025-06-01T21:30:05+08:00", TS),
        ("2025-06-01T13:30:05Z", TS),
        ("2025-06-01T13:30:05.250+00:00", TS + 250),
        (TS, TS),
        (float(TS), TS),
    ],
)
def test_timestamps(text, ms):
    assert parse_ts(text) == ms


@pytest.mark.parametrize(
    ("change", "reason", "field"),
    [
        ({"vehicle": ""}, "bad_field", "vehicle"),
        ({"vehicle": 7}, "bad_field", "vehicle"),
        ({"ts": "2025-06-01T21:30:05"}, "bad_field", "ts"),  # no offset
        ({"ts": "yesterday"}, "bad_field", "ts"),
        ({"ts": True}, "bad_field", "ts"),
        ({"ts": 1.5}, "bad_field", "ts"),
        ({"lat": "31.5"}, "bad_field", "lat"),
        ({"lng": None}, "bad_field", "lng"),
        ({"lat": False}, "bad_field", "lat"),
        ({"speed_kmh": "fast"}, "bad_field", "speed_kmh"),
        ({"loaded": "yes"}, "bad_field", "loaded"),
        ({"lift": 1}, "bad_field", "lift"),
        ({"seq": 1.0}, "bad_field", "seq"),
        ({"datum": "osgb36"}, "bad_field", "datum"),
        ({"source": 5}, "bad_field", "source"),
    ],
)
def test_bad_fields_are_named(change, reason, field):
    with pytest.raises(PingError) as err:
        parse_ping({**BASE, **change})
    assert (err.value.reason, err.value.field) == (reason, field)
    assert field in str(err.value)


def test_missing_ts():
    with pytest.raises(PingError, match="ts: required"):
        parse_ping({k: v for k, v in BASE.items() if k != "ts"})


@pytest.mark.parametrize("text", [b"{not json", b"[1, 2]", b"NaN", b""])
def test_bad_json(text):
    with pytest.raises(PingError) as err:
        parse_ping(text)
    assert err.value.reason == "bad_json"


def test_non_finite_coordinates_parse_for_hygiene_to_reject():
    p = parse_ping({**BASE, "lat": math.inf})
    assert math.isinf(p.lat)


@pytest.mark.parametrize("datum", ["gcj02", "bd09"])
def test_datum_is_converted_to_wgs84_once(datum):
    lng, lat = transform(120.3, 31.5, "wgs84", datum)
    p = parse_ping({**BASE, "lat": lat, "lng": lng, "datum": datum})
    assert abs(p.lat - 31.5) < 1e-6 and abs(p.lng - 120.3) < 1e-6  # within 10 cm


def test_iso_ts_is_beijing_time_with_millis_only_when_set():
    assert iso_ts(TS) == "2025-06-01T21:30:05+08:00"
    assert iso_ts(TS + 7) == "2025-06-01T21:30:05.007+08:00"
    assert iso_ts(None) is None
    assert parse_ts(iso_ts(TS + 7)) == TS + 7


@given(st.integers(-(10**12), 4 * 10**12))
def test_iso_ts_agrees_with_datetime(ms):
    """The cached fast formatting against the standard library (a slow oracle)."""
    moment = datetime.fromtimestamp(ms / 1000, BEIJING).replace(microsecond=(ms % 1000) * 1000)
    expected = moment.isoformat(timespec="milliseconds").replace(".000+", "+")
    assert iso_ts(ms) == expected
    assert parse_ts(iso_ts(ms)) == ms


def test_to_dict_round_trips():
    p = parse_ping({**BASE, "seq": 3, "loaded": "full", "cover_open": False}, ref=9)
    assert parse_ping(p.to_dict(), ref=9) == p
    assert "speed_kmh" not in p.to_dict()
