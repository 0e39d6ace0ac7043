"""Datum transforms against the published vectors of shared/DATUMS.md."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geofence import datum
from geofence.datum import transform
from geofence.metric import distance_m
from geofence.model import Datum

# (lat, lng) pairs as printed in DATUMS.md: WGS-84, then GCJ-02.
VECTORS = {
    "shanghai": ((31.1774276, 121.5272106), (31.17530398364597, 121.531541859215)),
    "shenzhen": ((22.543847, 113.912316), (22.540796131694766, 113.9171764808363)),
    "beijing": ((39.911954, 116.377817), (39.91334545536069, 116.38404722455657)),
}
DEG = 1e-9


@pytest.mark.parametrize("city", sorted(VECTORS))
def test_wgs84_to_gcj02_reproduces_published_vectors(city):
    (w_lat, w_lng), (g_lat, g_lng) = VECTORS[city]
    lng, lat = transform(w_lng, w_lat, "wgs84", "gcj02")
    assert lng == pytest.approx(g_lng, abs=DEG)
    assert lat == pytest.approx(g_lat, abs=DEG)


@pytest.mark.parametrize("city", sorted(VECTORS))
def test_gcj02_to_wgs84_returns_inputs_within_a_millimetre(city):
    (w_lat, w_lng), (g_lat, g_lng) = VECTORS[city]
    lng, lat = transform(g_lng, g_lat, Datum.GCJ02, Datum.WGS84)
    assert lng == pytest.approx(w_lng, abs=DEG)
    assert lat == pytest.approx(w_lat, abs=DEG)
    assert distance_m(lat, lng, w_lat, w_lng) < 0.001


def test_gcj_shift_near_wuxi_is_hundreds_of_metres():
    lng, lat = transform(120.31, 31.49, "wgs84", "gcj02")
    assert 300 < distance_m(31.49, 120.31, lat, lng) < 900


@pytest.mark.parametrize("lng, lat", [(183.0, 45.0), (2.35, 48.85), (-74.0, 40.7), (140.0, 35.7)])
@pytest.mark.parametrize("pair", [("wgs84", "gcj02"), ("gcj02", "wgs84")])
def test_outside_china_is_identity(lng, lat, pair):
    assert transform(lng, lat, *pair) == (lng, lat)


def test_bd09_negative_vector_has_no_plain_pi_bug():
    lng, lat = transform(120.019809, 29.199786, "bd09", "wgs84")
    assert lat == pytest.approx(29.19621972, abs=1e-7)
    assert lng == pytest.approx(120.00874001, abs=1e-7)
    # eviltransform's expectation (plain pi) is some 10 m away from the right answer.
    assert distance_m(lat, lng, 29.196131605295484, 120.00877901149691) > 8.0


def test_bd09_vector_would_fail_with_plain_pi(monkeypatch):
    # The test above must be able to fail: with the bug planted it lands near eviltransform's.
    monkeypatch.setattr(datum, "BD_X_PI", math.pi)
    lng, lat = transform(120.019809, 29.199786, "bd09", "wgs84")
    assert distance_m(lat, lng, 29.19621972, 120.00874001) > 8.0


def test_gcj02_to_bd09_offsets_by_the_bd_constants():
    lng, lat = transform(120.31, 31.49, "gcj02", "bd09")
    assert lng - 120.31 == pytest.approx(0.0065, abs=0.0005)
    assert lat - 31.49 == pytest.approx(0.006, abs=0.0005)


def test_arrays_equal_scalars_and_keep_shape():
    rng = np.random.default_rng(7)
    lng = rng.uniform(119.5, 121.0, (3, 4))
    lat = rng.uniform(31.0, 32.0, (3, 4))
    for src, dst in [("wgs84", "gcj02"), ("gcj02", "wgs84"), ("wgs84", "bd09"), ("bd09", "wgs84")]:
        out_lng, out_lat = transform(lng, lat, src, dst)
        assert out_lng.shape == lng.shape and out_lat.shape == lat.shape
        for i in np.ndindex(lng.shape):
            one = transform(float(lng[i]), float(lat[i]), src, dst)
            assert isinstance(one[0], float) and isinstance(one[1], float)
            assert one == pytest.approx((out_lng[i], out_lat[i]), abs=1e-12)


def test_same_datum_returns_copies():
    lng = np.array([120.3, 120.4])
    out, _ = transform(lng, np.array([31.5, 31.6]), "gcj02", "gcj02")
    out[0] = 0.0
    assert lng[0] == 120.3


def test_datum_names_are_forgiving_about_case_and_dashes():
    assert transform(120.3, 31.5, "WGS-84", "GCJ-02") == transform(120.3, 31.5, "wgs84", "gcj02")


def test_unknown_datum_is_named_in_the_error():
    with pytest.raises(ValueError, match="unknown datum 'cgcs1900'"):
        transform(120.3, 31.5, "cgcs1900", "wgs84")


def test_mismatched_shapes_are_refused():
    with pytest.raises(ValueError, match="shapes differ"):
        transform(np.zeros(3), np.zeros(2), "wgs84", "gcj02")


wuxi_lng = st.floats(119.5, 121.0, allow_nan=False)
wuxi_lat = st.floats(31.0, 32.2, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(wuxi_lng, wuxi_lat)
def test_gcj02_round_trip_over_wuxi(lng, lat):
    g_lng, g_lat = transform(lng, lat, "wgs84", "gcj02")
    assert distance_m(lat, lng, g_lat, g_lng) > 100  # the shift is real here
    back = transform(g_lng, g_lat, "gcj02", "wgs84")
    assert back == pytest.approx((lng, lat), abs=DEG)
    # and the other way round: GCJ-02 input, to WGS-84 and back
    w_lng, w_lat = transform(lng, lat, "gcj02", "wgs84")
    assert transform(w_lng, w_lat, "wgs84", "gcj02") == pytest.approx((lng, lat), abs=DEG)


@settings(max_examples=100, deadline=None)
@given(wuxi_lng, wuxi_lat)
def test_bd09_round_trip_over_wuxi_within_the_closed_form_error(lng, lat):
    # BD-09 -> GCJ-02 is the conventional closed form, first-order exact (see datum.py).
    b_lng, b_lat = transform(lng, lat, "wgs84", "bd09")
    back_lng, back_lat = transform(b_lng, b_lat, "bd09", "wgs84")
    assert distance_m(lat, lng, back_lat, back_lng) < 0.3


china_lng = st.floats(60.0, 150.0, allow_nan=False)  # straddles the box where GCJ-02 applies
china_lat = st.floats(-5.0, 60.0, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(china_lng, china_lat)
def test_point_inverses_agree_with_the_array_oracle(lng, lat):
    # The per-ping fast path (math) against the numpy implementation on an array.
    a_lng, a_lat = datum.gcj02_to_wgs84(np.array([lng]), np.array([lat]))
    p_lng, p_lat = datum.gcj02_to_wgs84_point(lng, lat)
    assert abs(p_lng - a_lng[0]) < 1e-12 and abs(p_lat - a_lat[0]) < 1e-12
    b_lng, b_lat = datum.bd09_to_gcj02(np.array([lng]), np.array([lat]))
    q_lng, q_lat = datum.bd09_to_gcj02_point(lng, lat)
    assert abs(q_lng - b_lng[0]) < 1e-12 and abs(q_lat - b_lat[0]) < 1e-12


def test_point_inverse_keeps_non_finite_input():
    lng, lat = datum.gcj02_to_wgs84_point(math.nan, 31.5)
    assert math.isnan(lng) and lat == 31.5
