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

from stream.engine import columns as C

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
    r = int(math.floor(lat * P[C.P_INV_GRID])) - dims[0]
    c = int(math.floor(lng * P[C.P_INV_GRID])) - dims[1]
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
    kbit = H[s, C.KBIT]
    fs_start, fs_zones = Z[7], Z[8]
    minute = _minute(ts)
    for k in range(fs_start[fs], fs_start[fs + 1]):
        z = fs_zones[k]
        if Z[1][z] & kbit and _active(z, minute, Z):
            return False, 0
    cell_start, cell_zones = Z[5], Z[6]
    c1 = _cell(lat, lng, P, Z)
    near = 1 if c1 >= 0 and cell_start[c1 + 1] > cell_start[c1] else 0
    last_ts = H[s, C.LAST_TS]
    if last_ts < 0:
        return True, near
    lat0, lng0 = F[s, C.LAT], F[s, C.LNG]
    if d2 > P[C.P_GRID_LEN2]:
        for z in range(Q[C.Q_NZONES]):  # a long segment: every zone is a candidate
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
def _visits_quiet(s, ts, speed, H, VI, P, Q):
    """No pending exit confirmed and no dwell completed by this ping (``places``)."""
    moving = speed >= P[C.P_MOVING]
    for k in range(H[s, C.NVIS]):
        out = VI[s, k, C.VI_OUT]
        if out >= 0 and VI[s, k, C.VI_OUTN] + 1 >= 2 and ts - out >= Q[C.Q_HOLD]:
            return False
        slow_ts = VI[s, k, C.VI_SLOW]
        pending = VI[s, k, C.VI_DONE] == C.V_PENDING and slow_ts >= 0
        if pending and (moving or slow_ts <= ts - Q[C.Q_DWELL]):  # may complete (places.left_at)
            return False
    return True


@njit(cache=True)
def _visits_commit(s, ts, lat, lng, seq, speed, flags, H, VI, VF, P):
    """What ``places.update_visits``/``update_dwell`` do for a quiet ping."""
    moving = speed >= P[C.P_MOVING]
    slow = speed < P[C.P_SLOW]
    not_empty = (flags & C.LOAD_BITS) != 1
    for k in range(H[s, C.NVIS]):
        if VI[s, k, C.VI_OUT] >= 0:
            VI[s, k, C.VI_OUTN] += 1
        if VI[s, k, C.VI_DONE] != C.V_PENDING:
            continue
        if not_empty:
            VI[s, k, C.VI_LOADED] = 1
        if moving:
            VI[s, k, C.VI_SLOW] = -1
        elif VI[s, k, C.VI_SLOW] < 0 and slow:
            VI[s, k, C.VI_SLOW] = ts
            VI[s, k, C.VI_SEQ] = seq
            VF[s, k, C.VF_LAT] = lat
            VF[s, k, C.VF_LNG] = lng


@njit(cache=True)
def quiet(s, ts, lat, lng, speed_in, flags, fs, H, F, VI, fs_mask, fs_limit, P, Q, Z):
    """Whether applying this released ping to slot ``s`` is quiet; no side effects.

    Returns (quiet, speed, loaded, near) for ``commit``; when not quiet, ``loaded`` holds the
    reason (1 leave to Python, 2 jump, 3 signal gap, 4 deadline or fences changed, 5 exit or
    dwell due, 6 stop rule due, 7 reported stop ends, 8 speed or cover, 9 lift, 10 route, 11
    restricted zone) for diagnostics.
    """
    if flags & C.PYTHON_ONLY:
        return (False, 0.0, 1, 0)
    last_ts = H[s, C.LAST_TS]
    d2 = 0.0
    speed = speed_in
    if last_ts >= 0:
        dy = (lat - F[s, C.LAT]) * P[C.P_M_LAT]
        dx = (lng - F[s, C.LNG]) * P[C.P_M_LNG]
        d2 = dx * dx + dy * dy
        if d2 > P[C.P_JUMP2]:  # hygiene.filter_impossible_jump, exactly
            reach = P[C.P_MAX_JUMP] * max(ts - last_ts, 1) / 3600.0
            if d2 > reach * reach:
                return (False, 0.0, 2, 0)
        if math.isnan(speed):
            speed = math.sqrt(d2) * 3600.0 / (ts - last_ts)
    elif math.isnan(speed):
        speed = 0.0
    if H[s, C.BEAT_UW] != 0 and ts - H[s, C.BEAT_TS] > Q[C.Q_LOST]:
        return (False, 0.0, 3, 0)
    if ts >= H[s, C.TRIP_DUE] or ts >= H[s, C.ROUND_DUE] or fs != H[s, C.FS]:
        return (False, 0.0, 4, 0)
    if (H[s, C.EXITING] != 0 or H[s, C.DWELLING] != 0) and not _visits_quiet(
        s, ts, speed, H, VI, P, Q
    ):
        return (False, 0.0, 5, 0)
    code = flags & C.LOAD_BITS
    loaded = H[s, C.DEF_LOADED] if code == 0 else (1 if code >= 2 else 0)
    muck = H[s, C.MUCK] != 0
    if H[s, C.ST_ON] != 0:
        sy = (lat - F[s, C.ST_LAT]) * P[C.P_M_LAT]
        sx = (lng - F[s, C.ST_LNG]) * P[C.P_M_LNG]
        if speed < P[C.P_MOVING] and sx * sx + sy * sy <= P[C.P_STOP_R2]:
            st_mask = H[s, C.ST_MASK] | fs_mask[fs] | H[s, C.VMASK]
            st_loaded = H[s, C.ST_LOADED] != 0 or loaded != 0
            if (
                ts - H[s, C.ST_TS] >= H[s, C.STOP_MS]
                and (st_mask & H[s, C.STOP_KNOWN]) == 0
                and (st_loaded or not muck)
            ):
                return (False, 0.0, 6, 0)
        elif H[s, C.ST_LAST] - H[s, C.ST_TS] >= Q[C.Q_STOP_REPORT]:
            return (False, 0.0, 7, 0)  # the stop ends and is reported
    limit = fs_limit[fs]
    if math.isnan(limit):
        limit = F[s, C.VLIMIT]
    if speed > limit:
        return (False, 0.0, 8, 0)
    if flags & C.COVER and loaded != 0 and speed > P[C.P_UNCOVERED]:  # rules.cover, exactly
        return (False, 0.0, 8, 0)
    if muck:
        if flags & C.LIFT:
            return (False, 0.0, 9, 0)
        if loaded != 0 and H[s, C.HAS_TRIP] != 0 and H[s, C.ROUTE_OK_FS] != fs:
            return (False, 0.0, 10, 0)
    near = 0
    if Q[C.Q_NZONES] > 0:
        ok, near = _zones_quiet(s, ts, lat, lng, fs, d2, H, F, P, Q, Z)
        if not ok:
            return (False, 0.0, 11, 0)
    return (True, speed, loaded, near)


@njit(cache=True)
def commit(
    s, ts, lat, lng, seq, fs, flags, speed, loaded, near, H, F, RI, RF, RB, VI, VF, fs_mask, P, Q
):
    """Apply the quiet buffered ping to slot ``s`` (what ``core.apply`` does for it)."""
    if H[s, C.EXITING] != 0 or H[s, C.DWELLING] != 0:
        _visits_commit(s, ts, lat, lng, seq, speed, flags, H, VI, VF, P)
    n = Q[C.Q_RING]
    pos = H[s, C.RING_POS]
    RI[s, pos, 0] = seq
    RI[s, pos, 1] = ts
    RF[s, pos, 0] = lat
    RF[s, pos, 1] = lng
    RB[s, pos, 0] = H[s, C.PEND_B]
    RB[s, pos, 1] = H[s, C.PEND_I]
    H[s, C.RING_POS] = (pos + 1) % n
    if H[s, C.RING_N] < n:
        H[s, C.RING_N] += 1
    mask = fs_mask[fs] | H[s, C.VMASK]
    stop_on = H[s, C.ST_ON] != 0
    if stop_on:
        sy = (lat - F[s, C.ST_LAT]) * P[C.P_M_LAT]
        sx = (lng - F[s, C.ST_LNG]) * P[C.P_M_LNG]
        if speed < P[C.P_MOVING] and sx * sx + sy * sy <= P[C.P_STOP_R2]:
            H[s, C.ST_LAST] = ts
            H[s, C.ST_MASK] |= mask
            if loaded != 0:
                H[s, C.ST_LOADED] = 1
        else:
            H[s, C.ST_ON] = 0
            stop_on = False
    if not stop_on and speed < P[C.P_SLOW]:
        H[s, C.ST_ON] = 1
        H[s, C.ST_SEQ] = seq
        H[s, C.ST_TS] = ts
        H[s, C.ST_LAST] = ts
        H[s, C.ST_MASK] = mask
        H[s, C.ST_LOADED] = loaded
        F[s, C.ST_LAT] = lat
        F[s, C.ST_LNG] = lng
    H[s, C.NEAR] = near
    H[s, C.LAST_TS] = ts
    H[s, C.SEQ] = seq
    H[s, C.LOADED] = loaded
    F[s, C.LAT] = lat
    F[s, C.LNG] = lng
    H[s, C.BEAT] = 1
    H[s, C.BEAT_NEW] = 1
    H[s, C.BEAT_B] = H[s, C.PEND_B]
    H[s, C.BEAT_I] = H[s, C.PEND_I]
    H[s, C.BEAT_TS] = ts
    H[s, C.BEAT_SEQ] = seq
    F[s, C.BEAT_LAT] = lat
    F[s, C.BEAT_LNG] = lng
    uw = H[s, C.WATCH_LOST] != 0 and loaded != 0 and (mask & Q[C.Q_KNOWN]) == 0
    H[s, C.BEAT_UW] = 1 if uw else 0
    H[s, C.RELEASED] = ts


@njit(cache=True)
def release_pending(s, H, F, RI, RF, RB, VI, VF, fs_mask, fs_limit, P, Q, Z):
    """Release slot ``s``'s buffered ping if that is quiet; False (and no change) otherwise."""
    ts = H[s, C.PEND_TS]
    lat = F[s, C.PEND_LAT]
    lng = F[s, C.PEND_LNG]
    fs = H[s, C.PEND_FS]
    flags = H[s, C.PEND_FLAGS]
    ok, speed, loaded, near = quiet(
        s, ts, lat, lng, F[s, C.PEND_SPEED], flags, fs, H, F, VI, fs_mask, fs_limit, P, Q, Z
    )
    if not ok:
        return False
    commit(
        s,
        ts,
        lat,
        lng,
        H[s, C.PEND_SEQ],
        fs,
        flags,
        speed,
        loaded,
        near,
        H,
        F,
        RI,
        RF,
        RB,
        VI,
        VF,
        fs_mask,
        P,
        Q,
    )
    H[s, C.PEND] = 0
    return True
