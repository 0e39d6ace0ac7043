"""Coordinate datums used in China: WGS-84, GCJ-02 and BD-09 (see shared/DATUMS.md).

Terminals report WGS-84; Amap/Tencent maps draw in GCJ-02 and Baidu in BD-09. Everything inside
landun is WGS-84: fences are converted once when they are loaded, map output once on the way out.

All functions take (lng, lat) in degrees, either Python floats or numpy arrays of any shape, and are
vectorised with numpy. Pure: no I/O.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from geofence.model import Datum

# Constants of the published GCJ-02 transform: the Krasovsky 1940 ellipsoid.
KRASOVSKY_A = 6378245.0
KRASOVSKY_EE = 0.00669342162296594323

# The box outside which GCJ-02 is the identity (WGS-84 is used abroad as is).
CHINA_LNG = (72.004, 137.8347)
CHINA_LAT = (0.8293, 55.8271)

# BD-09 scales its angular perturbation with pi*3000/180, not pi (the bug of some public copies).
BD_X_PI = np.pi * 3000.0 / 180.0
BD_DLNG = 0.0065
BD_DLAT = 0.006

# The inverses are fixed-point iterations; they converge in 3-5 rounds near China.
_INVERSE_TOL_DEG = 1e-12
_INVERSE_MAX_ROUNDS = 12


def as_datum(value: str | Datum) -> Datum:
    """Return the :class:`Datum` named by ``value``.

    Case, ``-`` and ``_`` are ignored, so ``"GCJ-02"`` and ``"WGS_84"`` are accepted.

    Raises
    ------
    ValueError
        When ``value`` names no known datum.
    """
    if isinstance(value, Datum):
        return value
    key = str(value).strip().lower().replace("-", "").replace("_", "")
    try:
        return Datum(key)
    except ValueError:
        known = ", ".join(d.value for d in Datum)
        raise ValueError(f"unknown datum {value!r} (expected one of {known})") from None


def in_china(lng: Any, lat: Any) -> Any:
    """True where (lng, lat) lies in the box where GCJ-02 differs from WGS-84."""
    lng = np.asarray(lng, dtype=float)
    lat = np.asarray(lat, dtype=float)
    inside = (lng >= CHINA_LNG[0]) & (lng <= CHINA_LNG[1])
    return inside & (lat >= CHINA_LAT[0]) & (lat <= CHINA_LAT[1])


def _gcj_shift(lng: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The GCJ-02 offset (dlng, dlat) in degrees at WGS-84 (lng, lat), zero outside China."""
    x = lng - 105.0
    y = lat - 35.0
    # Periodic terms shared by both ordinates, then each ordinate's own terms.
    common = 20.0 * np.sin(6.0 * np.pi * x) + 20.0 * np.sin(2.0 * np.pi * x)
    north = common + 20.0 * np.sin(np.pi * y) + 40.0 * np.sin(np.pi * y / 3.0)
    north += 160.0 * np.sin(np.pi * y / 12.0) + 320.0 * np.sin(np.pi * y / 30.0)
    east = common + 20.0 * np.sin(np.pi * x) + 40.0 * np.sin(np.pi * x / 3.0)
    east += 150.0 * np.sin(np.pi * x / 12.0) + 300.0 * np.sin(np.pi * x / 30.0)
    root = np.sqrt(np.abs(x))
    north = north * (2.0 / 3.0) - 100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * root
    east = east * (2.0 / 3.0) + 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * root
    # Metres on the Krasovsky ellipsoid to degrees: meridian and parallel radii of curvature.
    phi = np.radians(lat)
    w2 = 1.0 - KRASOVSKY_EE * np.sin(phi) ** 2
    meridian_r = KRASOVSKY_A * (1.0 - KRASOVSKY_EE) / (w2 * np.sqrt(w2))
    parallel_r = KRASOVSKY_A / np.sqrt(w2) * np.cos(phi)
    dlat = north * 180.0 / (meridian_r * np.pi)
    dlng = east * 180.0 / (parallel_r * np.pi)
    outside = ~in_china(lng, lat)
    return np.where(outside, 0.0, dlng), np.where(outside, 0.0, dlat)


def wgs84_to_gcj02(lng: Any, lat: Any) -> tuple[np.ndarray, np.ndarray]:
    """WGS-84 to GCJ-02 (identity outside China), on numpy arrays."""
    lng = np.asarray(lng, dtype=float)
    lat = np.asarray(lat, dtype=float)
    dlng, dlat = _gcj_shift(lng, lat)
    return lng + dlng, lat + dlat


def gcj02_to_wgs84(lng: Any, lat: Any) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 to WGS-84 by fixed-point iteration of the forward transform.

    The one-step inverse ``2*gcj - f(gcj)`` is off by metres; iterating ``w <- w + (g - f(w))``
    converges below 1e-9 degrees in a few rounds because the offset varies slowly.
    """
    g_lng = np.asarray(lng, dtype=float)
    g_lat = np.asarray(lat, dtype=float)
    w_lng, w_lat = g_lng.copy(), g_lat.copy()
    for _ in range(_INVERSE_MAX_ROUNDS):
        f_lng, f_lat = wgs84_to_gcj02(w_lng, w_lat)
        step_lng, step_lat = g_lng - f_lng, g_lat - f_lat
        w_lng, w_lat = w_lng + step_lng, w_lat + step_lat
        if _max_abs(step_lng, step_lat) < _INVERSE_TOL_DEG:
            break
    return w_lng, w_lat


def gcj02_to_wgs84_point(lng: float, lat: float) -> tuple[float, float]:
    """GCJ-02 to WGS-84 for one point, on Python floats.

    The same fixed-point iteration as :func:`gcj02_to_wgs84` with :mod:`math` instead of numpy:
    about 30 times faster for a single point (a numpy call on a 0-d array costs a microsecond),
    which is what per-ping conversion at the edges needs (``stream.ping``). Both agree to
    1e-12 degrees; a ping is always converted by this function, so results never depend on
    which other pings came in the same batch.

    Examples
    --------
    >>> lng, lat = gcj02_to_wgs84_point(121.531541859, 31.175303984)
    >>> round(lng, 7), round(lat, 7)
    (121.5272106, 31.1774276)
    """
    if not (math.isfinite(lng) and math.isfinite(lat)):
        return lng, lat
    w_lng, w_lat = lng, lat
    for _ in range(_INVERSE_MAX_ROUNDS):
        d_lng, d_lat = _gcj_shift_point(w_lng, w_lat)
        step_lng, step_lat = lng - (w_lng + d_lng), lat - (w_lat + d_lat)
        w_lng, w_lat = w_lng + step_lng, w_lat + step_lat
        if abs(step_lng) < _INVERSE_TOL_DEG and abs(step_lat) < _INVERSE_TOL_DEG:
            break
    return w_lng, w_lat


def bd09_to_gcj02_point(lng: float, lat: float) -> tuple[float, float]:
    """:func:`bd09_to_gcj02` for one point, on Python floats."""
    x, y = lng - BD_DLNG, lat - BD_DLAT
    radius = math.hypot(x, y) - 0.00002 * math.sin(y * BD_X_PI)
    theta = math.atan2(y, x) - 0.000003 * math.cos(x * BD_X_PI)
    return radius * math.cos(theta), radius * math.sin(theta)


def _gcj_shift_point(lng: float, lat: float) -> tuple[float, float]:
    """:func:`_gcj_shift` for one point (same terms, same order)."""
    if not (CHINA_LNG[0] <= lng <= CHINA_LNG[1] and CHINA_LAT[0] <= lat <= CHINA_LAT[1]):
        return 0.0, 0.0
    pi, sin = math.pi, math.sin
    x = lng - 105.0
    y = lat - 35.0
    common = 20.0 * sin(6.0 * pi * x) + 20.0 * sin(2.0 * pi * x)
    north = common + 20.0 * sin(pi * y) + 40.0 * sin(pi * y / 3.0)
    north += 160.0 * sin(pi * y / 12.0) + 320.0 * sin(pi * y / 30.0)
    east = common + 20.0 * sin(pi * x) + 40.0 * sin(pi * x / 3.0)
    east += 150.0 * sin(pi * x / 12.0) + 300.0 * sin(pi * x / 30.0)
    root = math.sqrt(abs(x))
    north = north * (2.0 / 3.0) - 100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * root
    east = east * (2.0 / 3.0) + 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * root
    phi = math.radians(lat)
    w2 = 1.0 - KRASOVSKY_EE * sin(phi) ** 2
    meridian_r = KRASOVSKY_A * (1.0 - KRASOVSKY_EE) / (w2 * math.sqrt(w2))
    parallel_r = KRASOVSKY_A / math.sqrt(w2) * math.cos(phi)
    return east * 180.0 / (parallel_r * pi), north * 180.0 / (meridian_r * pi)


def gcj02_to_bd09(lng: Any, lat: Any) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 to BD-09 (Baidu): a small polar perturbation plus a fixed offset."""
    x = np.asarray(lng, dtype=float)
    y = np.asarray(lat, dtype=float)
    radius = np.hypot(x, y) + 0.00002 * np.sin(y * BD_X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * BD_X_PI)
    return radius * np.cos(theta) + BD_DLNG, radius * np.sin(theta) + BD_DLAT


def bd09_to_gcj02(lng: Any, lat: Any) -> tuple[np.ndarray, np.ndarray]:
    """BD-09 to GCJ-02 by the conventional closed form.

    It removes the perturbation evaluated at the BD-09 point, so it is only first-order exact:
    a GCJ-02 -> BD-09 -> GCJ-02 round trip is off by up to about 2e-6 degrees (~0.2 m). We keep
    the closed form because it is the de-facto definition every Baidu-facing system shares (and
    the one the published test vectors were made with); 0.2 m is far below fence sizes.
    """
    x = np.asarray(lng, dtype=float) - BD_DLNG
    y = np.asarray(lat, dtype=float) - BD_DLAT
    radius = np.hypot(x, y) - 0.00002 * np.sin(y * BD_X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * BD_X_PI)
    return radius * np.cos(theta), radius * np.sin(theta)


def _max_abs(a: np.ndarray, b: np.ndarray) -> float:
    if a.size == 0:
        return 0.0
    # NaN steps (bad input) must not keep the loop spinning: nanmax ignores them.
    with np.errstate(invalid="ignore"):
        worst = np.nanmax(np.abs(np.concatenate([a.ravel(), b.ravel()])), initial=0.0)
    return float(worst)


# Each datum is converted to and from WGS-84, the hub; BD-09 goes through GCJ-02.
def _to_wgs84(datum: Datum, lng: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if datum is Datum.GCJ02:
        return gcj02_to_wgs84(lng, lat)
    if datum is Datum.BD09:
        return gcj02_to_wgs84(*bd09_to_gcj02(lng, lat))
    return lng, lat


def _from_wgs84(datum: Datum, lng: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if datum is Datum.GCJ02:
        return wgs84_to_gcj02(lng, lat)
    if datum is Datum.BD09:
        return gcj02_to_bd09(*wgs84_to_gcj02(lng, lat))
    return lng, lat


def transform(lng: Any, lat: Any, src: str | Datum, dst: str | Datum) -> tuple[Any, Any]:
    """Convert coordinates from datum ``src`` to datum ``dst``.

    Parameters
    ----------
    lng, lat : float or array_like
        Longitude and latitude in degrees, in ``src``. Arrays of any (equal) shape.
    src, dst : str or Datum
        ``"wgs84"``, ``"gcj02"`` or ``"bd09"`` (or a :class:`~geofence.model.Datum`).

    Returns
    -------
    tuple
        ``(lng, lat)`` in ``dst``: a tuple of Python floats when both inputs are scalars,
        otherwise a tuple of two float arrays.

    Raises
    ------
    ValueError
        When a datum is unknown or the arrays' shapes differ.

    Examples
    --------
    >>> lng, lat = transform(121.5272106, 31.1774276, "wgs84", "gcj02")
    >>> round(lng, 9), round(lat, 9)
    (121.531541859, 31.175303984)
    """
    src_d, dst_d = as_datum(src), as_datum(dst)
    scalar = np.ndim(lng) == 0 and np.ndim(lat) == 0
    if scalar and dst_d is Datum.WGS84 and src_d is not Datum.WGS84:
        x, y = float(lng), float(lat)
        if src_d is Datum.BD09:
            x, y = bd09_to_gcj02_point(x, y)
        return gcj02_to_wgs84_point(x, y)
    # Copies: the caller's arrays are never aliased by the result.
    lng_a = np.array(lng, dtype=float)
    lat_a = np.array(lat, dtype=float)
    if lng_a.shape != lat_a.shape:
        raise ValueError(f"lng and lat shapes differ: {lng_a.shape} != {lat_a.shape}")
    if src_d is not dst_d:
        lng_a, lat_a = _from_wgs84(dst_d, *_to_wgs84(src_d, lng_a, lat_a))
    if scalar:
        return float(lng_a), float(lat_a)
    return lng_a, lat_a
