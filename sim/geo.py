"""The simulator's flat metric frame around Wuxi, and small polyline geometry.

Everything in the simulator is planned in metres (x east, y north) on an equirectangular frame
centred on Wuxi; only the writer turns metres into WGS-84 degrees (and, for a few fences and
platform-forwarded pings, GCJ-02 through :func:`geofence.datum.transform`). Over the 40 km the
scenario spans the frame's scale error stays below 0.2 %, far inside every threshold that matters
(a 150 m deviation tolerance is off by less than 0.3 m).
"""

from __future__ import annotations

import math

import numpy as np

LAT0 = 31.55  # frame origin, between the old city and Taihu new town
LNG0 = 120.31
M_PER_DEG = 111_194.93  # metres per degree of latitude on the mean sphere (R = 6371008.8 m)
COS0 = math.cos(math.radians(LAT0))


def to_xy(lat, lng):
    """Degrees (WGS-84) to frame metres; scalars or numpy arrays."""
    return (np.asarray(lng) - LNG0) * M_PER_DEG * COS0, (np.asarray(lat) - LAT0) * M_PER_DEG


def to_latlng(x, y):
    """Frame metres to degrees (WGS-84); scalars or numpy arrays."""
    return LAT0 + np.asarray(y) / M_PER_DEG, LNG0 + np.asarray(x) / (M_PER_DEG * COS0)


def xy_of(lat: float, lng: float) -> np.ndarray:
    """One point, degrees to a frame vector."""
    x, y = to_xy(lat, lng)
    return np.array([float(x), float(y)])


def cumulative(path: np.ndarray) -> np.ndarray:
    """Distance along ``path`` (k x 2 metres) at each vertex, starting at 0."""
    if len(path) < 2:
        return np.zeros(len(path))
    seg = np.hypot(*np.diff(path, axis=0).T)
    return np.concatenate(([0.0], np.cumsum(seg)))


def point_at(path: np.ndarray, cum: np.ndarray, s: float) -> np.ndarray:
    """The point at distance ``s`` along ``path`` (clamped to its ends)."""
    s = min(max(s, 0.0), float(cum[-1]))
    return np.array([np.interp(s, cum, path[:, 0]), np.interp(s, cum, path[:, 1])])


def cut(path: np.ndarray, cum: np.ndarray, s0: float, s1: float) -> np.ndarray:
    """The part of ``path`` between distances ``s0 <= s1`` as a new polyline."""
    inner = path[(cum > s0) & (cum < s1)]
    return np.vstack([point_at(path, cum, s0), inner, point_at(path, cum, s1)])


def direction_at(path: np.ndarray, cum: np.ndarray, s: float) -> np.ndarray:
    """Unit vector of travel at distance ``s`` along ``path``."""
    i = int(np.clip(np.searchsorted(cum, s, side="right") - 1, 0, len(path) - 2))
    d = path[i + 1] - path[i]
    n = float(np.hypot(*d))
    return d / n if n > 0 else np.array([1.0, 0.0])


def bearing(dx, dy):
    """Compass heading in degrees (0 = north, clockwise) of a displacement; arrays allowed."""
    return np.degrees(np.arctan2(dx, dy)) % 360.0


def join(*paths: np.ndarray) -> np.ndarray:
    """Concatenate polylines, dropping a repeated joint vertex."""
    out = [paths[0]]
    for p in paths[1:]:
        out.append(p[1:] if np.allclose(out[-1][-1], p[0]) else p)
    return np.vstack(out)


def left_of(u: np.ndarray) -> np.ndarray:
    """The unit direction ``u`` turned a quarter to the left."""
    return np.array([-u[1], u[0]])


def parallel_detour(
    path: np.ndarray, cum: np.ndarray, s1: float, s2: float, side: float, offset: float
) -> np.ndarray:
    """A detour leaving ``path`` at ``s1``, running ``offset`` m to one ``side`` (+1 left,
    -1 right) and back onto it at ``s2``: four points."""
    p1, p2 = point_at(path, cum, s1), point_at(path, cum, s2)
    n1, n2 = (left_of(direction_at(path, cum, s)) * side for s in (s1, s2))
    return np.vstack([p1, p1 + n1 * offset, p2 + n2 * offset, p2])
