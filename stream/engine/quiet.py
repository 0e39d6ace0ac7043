"""Is a ping quiet, and applying it when it is (compiled; see ``stream.engine.kernel``).

A ping is *quiet* when ``core.apply`` would raise no event and change nothing but positions,
timers and the stop: same fences as the previous ping, no jump, no signal-lost gap or deadline
reached, under the speed limit, no cover/lift flag, on its permit's route if loaded, no stop
threshold crossed or reported stop ended, and no restricted zone that applies inside or across
the segment from the previous ping. ``quiet`` decides without side effects; ``commit`` then does
for the ping exactly what ``core.apply`` does (its tests compare the two paths).
"""

from __future__ import annotations

import math

from numba import njit

from stream.engine.columns import (
    BEAT,
    BEAT_B,
    BEAT_I,
    BEAT_LAT,
    BEAT_LNG,
    BEAT_NEW,
    BEAT_SEQ,
    BEAT_TS,
    BEAT_UW,
    COVER,
    DEF_LOADED,
    FS,
    HAS_TRIP,
    KBIT,
    LAST_TS,
    LAT,
    LIFT,
    LNG,
    LOAD_BITS,
    LOADED,
    MUCK,
    NEAR,
    P_GRID_LEN2,
    P_INV_GRID,
    P_JUMP2,
    P_M_LAT,
    P_M_LNG,
    P_MOVING,
    P_SLOW,
    P_STOP_R2,
    PEND,
    PEND_B,
    PEND_FLAGS,
    PEND_FS,
    PEND_I,
    PEND_LAT,
    PEND_LNG,
    PEND_SEQ,
    PEND_SPEED,
    PEND_TS,
    PYTHON_ONLY,
    Q_KNOWN,
    Q_LOST,
    Q_NZONES,
    Q_RING,
    Q_STOP_REPORT,
    RELEASED,
    RING_N,
    RING_POS,
    ROUND_DUE,
    ROUTE_OK_FS,
    SEQ,
    ST_LAST,
    ST_LAT,
    ST_LNG,
    ST_LOADED,
    ST_MASK,
    ST_ON,
    ST_SEQ,
    ST_TS,
    STOP_KNOWN,
    STOP_MS,
    TRIP_DUE,
    VLIMIT,
    WATCH_LOST,
)  # fmt: skip

BEIJING_MS = 8 * 3600 * 1000
DAY_MS = 86_400_000


@njit(cache=True)
def _minute(ts):
    return ((ts + BEIJING_MS) // 60_000) % 1440


@njit(cache=True)
def _active(z, minute, Z):
    """``restricted.applies`` for the hours of zone ``z`` (kinds checked by the caller)."""
    win, nwin = Z[2], Z[3]
    if nwin[z] == 0:
        return True
    for j in range(nwin[z]):
        start, end = win[z, j, 0], win[z, j, 1]
        if start <= end:
            if start <= minute < end:
                return True
        elif minute >= start or minute < end:
            return True
    return False


@njit(cache=True)
def _within(x, m0, m1):
    """x in the minutes (m0, m1], wrapping midnight."""
    if m0 <= m1:
        return m0 < x <= m1
    return x > m0 or x <= m1


@njit(cache=True)
def _active_during(z, t0, t1, Z):
    """Zone ``z`` active at some moment of [t0, t1] (exact: at an end, or a boundary inside)."""
    if Z[3][z] == 0 or t1 - t0 >= DAY_MS:
        return True
    m0, m1 = _minute(t0), _minute(t1)
    if _active(z, m0, Z) or _active(z, m1, Z):
        return True
    win = Z[2]
    for j in range(Z[3][z]):
        if _within(win[z, j, 0], m0, m1) or _within(win[z, j, 1], m0, m1):
            return True
    return False


@njit(cache=True)
def _cell(lat, lng, P, Z):
    dims = Z[4]
    r = int(math.floor(lat * P[P_INV_GRID])) - dims[0]
    c = int(math.floor(lng * P[P_INV_GRID])) - dims[1]
    if r < 0 or c < 0 or r >= dims[2] or c >= dims[3]:
        return -1
    return r * dims[3] + c


@njit(cache=True)
def _crossing_possible(z, kbit, t0, lat0, lng0, t1, lat1, lng1, Z):
    if Z[1][z] & kbit == 0:
        return False
    box = Z[0]
    if max(lng0, lng1) < box[z, 0] or min(lng0, lng1) > box[z, 2]:
        return False
    if max(lat0, lat1) < box[z, 1] or min(lat0, lat1) > box[z, 3]:
        return False
    return _active_during(z, t0, t1, Z)


@njit(cache=True)
def _zones_quiet(s, ts, lat, lng, fs, d2, H, F, P, Q, Z):
    """No applicable restricted zone inside, or possibly crossed; returns (quiet, near)."""
    kbit = H[s, KBIT]
    fs_start, fs_zones = Z[7], Z[8]
    minute = _minute(ts)
    for k in range(fs_start[fs], fs_start[fs + 1]):
        z = fs_zones[k]
        if Z[1][z] & kbit and _active(z, minute, Z):
            return False, 0
    cell_start, cell_zones = Z[5], Z[6]
    c1 = _cell(lat, lng, P, Z)
    near = 1 if c1 >= 0 and cell_start[c1 + 1] > cell_start[c1] else 0
    last_ts = H[s, LAST_TS]
    if last_ts < 0:
        return True, near
    lat0, lng0 = F[s, LAT], F[s, LNG]
    if d2 > P[P_GRID_LEN2]:
        for z in range(Q[Q_NZONES]):  # a long segment: every zone is a candidate
            if _crossing_possible(z, kbit, last_ts, lat0, lng0, ts, lat, lng, Z):
                return False, near
        return True, near
    c0 = _cell(lat0, lng0, P, Z)
    for c in (c0, c1):
        if c < 0:
            continue
        for k in range(cell_start[c], cell_start[c + 1]):
            if _crossing_possible(cell_zones[k], kbit, last_ts, lat0, lng0, ts, lat, lng, Z):
                return False, near
    return True, near


@njit(cache=True)
def quiet(s, ts, lat, lng, speed_in, flags, fs, H, F, fs_mask, fs_limit, P, Q, Z):
    """Whether applying this released ping to slot ``s`` is quiet; no side effects.

    Returns (quiet, speed, loaded, near) for ``commit``.
    """
    no = (False, 0.0, 0, 0)
    if flags & PYTHON_ONLY:
        return no
    last_ts = H[s, LAST_TS]
    d2 = 0.0
    speed = speed_in
    if last_ts >= 0:
        dy = (lat - F[s, LAT]) * P[P_M_LAT]
        dx = (lng - F[s, LNG]) * P[P_M_LNG]
        d2 = dx * dx + dy * dy
        if d2 > P[P_JUMP2]:
            return no
        if math.isnan(speed):
            speed = math.sqrt(d2) * 3600.0 / (ts - last_ts)
    elif math.isnan(speed):
        speed = 0.0
    if H[s, BEAT_UW] != 0 and ts - H[s, BEAT_TS] > Q[Q_LOST]:
        return no
    if ts >= H[s, TRIP_DUE] or ts >= H[s, ROUND_DUE] or fs != H[s, FS]:
        return no
    code = flags & LOAD_BITS
    loaded = H[s, DEF_LOADED] if code == 0 else (1 if code >= 2 else 0)
    muck = H[s, MUCK] != 0
    if H[s, ST_ON] != 0:
        sy = (lat - F[s, ST_LAT]) * P[P_M_LAT]
        sx = (lng - F[s, ST_LNG]) * P[P_M_LNG]
        if speed < P[P_MOVING] and sx * sx + sy * sy <= P[P_STOP_R2]:
            st_mask = H[s, ST_MASK] | fs_mask[fs]
            st_loaded = H[s, ST_LOADED] != 0 or loaded != 0
            if (
                ts - H[s, ST_TS] >= H[s, STOP_MS]
                and (st_mask & H[s, STOP_KNOWN]) == 0
                and (st_loaded or not muck)
            ):
                return no
        elif H[s, ST_LAST] - H[s, ST_TS] >= Q[Q_STOP_REPORT]:
            return no  # the stop ends and is reported
    limit = fs_limit[fs]
    if math.isnan(limit):
        limit = F[s, VLIMIT]
    if speed > limit or flags & COVER:
        return no
    if muck:
        if flags & LIFT:
            return no
        if loaded != 0 and H[s, HAS_TRIP] != 0 and H[s, ROUTE_OK_FS] != fs:
            return no
    near = 0
    if Q[Q_NZONES] > 0:
        ok, near = _zones_quiet(s, ts, lat, lng, fs, d2, H, F, P, Q, Z)
        if not ok:
            return no
    return (True, speed, loaded, near)


@njit(cache=True)
def commit(s, ts, lat, lng, seq, fs, speed, loaded, near, H, F, RI, RF, RB, fs_mask, P, Q):
    """Apply the quiet buffered ping to slot ``s`` (what ``core.apply`` does for it)."""
    n = Q[Q_RING]
    pos = H[s, RING_POS]
    RI[s, pos, 0] = seq
    RI[s, pos, 1] = ts
    RF[s, pos, 0] = lat
    RF[s, pos, 1] = lng
    RB[s, pos, 0] = H[s, PEND_B]
    RB[s, pos, 1] = H[s, PEND_I]
    H[s, RING_POS] = (pos + 1) % n
    if H[s, RING_N] < n:
        H[s, RING_N] += 1
    mask = fs_mask[fs]
    stop_on = H[s, ST_ON] != 0
    if stop_on:
        sy = (lat - F[s, ST_LAT]) * P[P_M_LAT]
        sx = (lng - F[s, ST_LNG]) * P[P_M_LNG]
        if speed < P[P_MOVING] and sx * sx + sy * sy <= P[P_STOP_R2]:
            H[s, ST_LAST] = ts
            H[s, ST_MASK] |= mask
            if loaded != 0:
                H[s, ST_LOADED] = 1
        else:
            H[s, ST_ON] = 0
            stop_on = False
    if not stop_on and speed < P[P_SLOW]:
        H[s, ST_ON] = 1
        H[s, ST_SEQ] = seq
        H[s, ST_TS] = ts
        H[s, ST_LAST] = ts
        H[s, ST_MASK] = mask
        H[s, ST_LOADED] = loaded
        F[s, ST_LAT] = lat
        F[s, ST_LNG] = lng
    H[s, NEAR] = near
    H[s, LAST_TS] = ts
    H[s, SEQ] = seq
    H[s, LOADED] = loaded
    F[s, LAT] = lat
    F[s, LNG] = lng
    H[s, BEAT] = 1
    H[s, BEAT_NEW] = 1
    H[s, BEAT_B] = H[s, PEND_B]
    H[s, BEAT_I] = H[s, PEND_I]
    H[s, BEAT_TS] = ts
    H[s, BEAT_SEQ] = seq
    F[s, BEAT_LAT] = lat
    F[s, BEAT_LNG] = lng
    uw = H[s, WATCH_LOST] != 0 and loaded != 0 and (mask & Q[Q_KNOWN]) == 0
    H[s, BEAT_UW] = 1 if uw else 0
    H[s, RELEASED] = ts


@njit(cache=True)
def release_pending(s, H, F, RI, RF, RB, fs_mask, fs_limit, P, Q, Z):
    """Release slot ``s``'s buffered ping if that is quiet; False (and no change) otherwise."""
    ts = H[s, PEND_TS]
    lat = F[s, PEND_LAT]
    lng = F[s, PEND_LNG]
    fs = H[s, PEND_FS]
    flags = H[s, PEND_FLAGS]
    ok, speed, loaded, near = quiet(
        s, ts, lat, lng, F[s, PEND_SPEED], flags, fs, H, F, fs_mask, fs_limit, P, Q, Z
    )
    if not ok:
        return False
    commit(
        s, ts, lat, lng, H[s, PEND_SEQ], fs, speed, loaded, near, H, F, RI, RF, RB, fs_mask, P, Q
    )
    H[s, PEND] = 0
    return True
