"""Compiled fast path of the engine: the quiet pings of vehicles whose state is simple.

A ping is *quiet* when applying it can raise no event: it is in order, its release from the
reorder buffer changes nothing but positions and timers, its fences are the same as the previous
ping's, it breaks no rule and crosses no threshold. ``scan`` applies quiet pings to per-vehicle
hot state held in arrays (see ``stream.engine.fastpath``) and *defers* every other ping, in
order, to the Python engine — which remains the reference: for a quiet ping the two must do
exactly the same thing (``tests/stream/engine/test_fastpath.py`` checks it).

Array layouts: ``H`` int64 and ``F`` float64, one row per vehicle slot, columns below; ``RI``
(seq, ts) and ``RF`` (lat, lng) the ring of recent pings per slot. Ping ``flags`` pack the
reported load (0 none, 1 empty, 2 half, 3 full) and the lift, cover and backfill bits. ``RB``
holds, per ring entry, where its Ping object is (batch number, index), so that writing a vehicle
back to Python reuses the original objects; ``BEAT_B``/``BEAT_I`` and ``PEND_B``/``PEND_I``
do the same for the beat and the buffered ping.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

NONE = -(1 << 62)  # "no value" in int columns (a seq that was not reported)

# H columns (int64)
(
    MODE,
    HEAD,
    RELEASED,
    PEND,
    PEND_B,
    PEND_I,
    PEND_TS,
    PEND_SEQ,
    PEND_FS,
    PEND_FLAGS,
    LAST_TS,
    SEQ,
    FS,
    LOADED,
    NEAR,
    ST_ON,
    ST_SEQ,
    ST_TS,
    ST_LAST,
    ST_MASK,
    ST_LOADED,
    RING_N,
    RING_POS,
    BEAT,
    BEAT_TS,
    BEAT_SEQ,
    BEAT_UW,
    TRIP_DUE,
    ROUND_DUE,
    DEF_LOADED,
    HAS_TRIP,
    ROUTE_OK_FS,
    MUCK,
    WATCH_LOST,
    STOP_MS,
    STOP_KNOWN,
    BEAT_B,
    BEAT_I,
) = range(38)
NH = 38
# F columns (float64)
LAT, LNG, ST_LAT, ST_LNG, BEAT_LAT, BEAT_LNG, VLIMIT, PEND_LAT, PEND_LNG, PEND_SPEED = range(10)
NF = 10

# MODE values: the vehicle's hot state lives in Python objects, in these arrays, or in the arrays
# but pings of it were deferred in the current scan (so all its later pings are deferred too).
PYTHON, KERNEL, DEFERRED = 0, 1, 2
# Ping flags
LOAD_BITS, LIFT, COVER, BACKFILL = 3, 4, 8, 16
# Deferred actions
ADMIT, TOO_OLD, RELEASE = 0, 1, 2
# Why a scan stopped
END, TICK, FUTURE = 0, 1, 2
# P (float params) and Q (int params) indices
P_M_LAT, P_M_LNG, P_JUMP2, P_STOP_R2, P_SLOW, P_MOVING, P_GRID_LEN2, P_INV_GRID = range(8)
(
    Q_REORDER,
    Q_LOST,
    Q_FUTURE,
    Q_MAX_AGE,
    Q_STOP_REPORT,
    Q_KNOWN,
    Q_HAS_RESTRICTED,
    Q_GRID_R0,
    Q_GRID_C0,
    Q_RING,
) = range(10)


@njit(cache=True)
def _near(lat, lng, grid, P, Q):
    r = int(math.floor(lat * P[P_INV_GRID])) - Q[Q_GRID_R0]
    c = int(math.floor(lng * P[P_INV_GRID])) - Q[Q_GRID_C0]
    if r < 0 or c < 0 or r >= grid.shape[0] or c >= grid.shape[1]:
        return 0
    return 1 if grid[r, c] else 0


@njit(cache=True)
def _quiet(s, ts, lat, lng, speed_in, flags, fs, H, F, fs_mask, fs_limit, fs_restr, grid, P, Q):
    """Whether applying this (released) ping to slot ``s`` is quiet; no side effects.

    Returns (quiet, speed, d2, loaded, near) so that the commit need not recompute them.
    """
    no = (False, 0.0, 0.0, 0, 0)
    if flags & BACKFILL:
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
    if ts >= H[s, TRIP_DUE] or ts >= H[s, ROUND_DUE]:
        return no
    if fs != H[s, FS]:
        return no
    code = flags & LOAD_BITS
    loaded = H[s, DEF_LOADED] if code == 0 else (1 if code >= 2 else 0)
    muck = H[s, MUCK] != 0
    mask = fs_mask[fs]
    if H[s, ST_ON] != 0:
        sy = (lat - F[s, ST_LAT]) * P[P_M_LAT]
        sx = (lng - F[s, ST_LNG]) * P[P_M_LNG]
        if speed < P[P_MOVING] and sx * sx + sy * sy <= P[P_STOP_R2]:
            st_mask = H[s, ST_MASK] | mask
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
    if fs_restr[fs]:
        return no
    near = 0
    if Q[Q_HAS_RESTRICTED] != 0:
        near = _near(lat, lng, grid, P, Q)
        if last_ts >= 0 and (near != 0 or H[s, NEAR] != 0 or d2 > P[P_GRID_LEN2]):
            return no
    return (True, speed, d2, loaded, near)


@njit(cache=True)
def _commit(s, ts, lat, lng, seq, fs, speed, loaded, near, H, F, RI, RF, RB, fs_mask, P, Q):
    """Apply a quiet ping to slot ``s`` (what ``core.apply`` does for it)."""
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
def _release_pending(s, H, F, RI, RF, RB, fs_mask, fs_limit, fs_restr, grid, P, Q):
    """Release slot ``s``'s buffered ping if that is quiet; False (and no change) otherwise."""
    ts = H[s, PEND_TS]
    lat = F[s, PEND_LAT]
    lng = F[s, PEND_LNG]
    fs = H[s, PEND_FS]
    ok, speed, d2, loaded, near = _quiet(
        s,
        ts,
        lat,
        lng,
        F[s, PEND_SPEED],
        H[s, PEND_FLAGS],
        fs,
        H,
        F,
        fs_mask,
        fs_limit,
        fs_restr,
        grid,
        P,
        Q,
    )
    if not ok:
        return False
    _commit(
        s, ts, lat, lng, H[s, PEND_SEQ], fs, speed, loaded, near, H, F, RI, RF, RB, fs_mask, P, Q
    )
    H[s, PEND] = 0
    return True


@njit(cache=True)
def scan(
    start,
    slot,
    ts,
    lat,
    lng,
    speed,
    flags,
    seq,
    fsid,
    batch_no,
    H,
    F,
    RI,
    RF,
    RB,
    fs_mask,
    fs_limit,
    fs_restr,
    grid,
    P,
    Q,
    clock,
    out_idx,
    out_act,
):
    """Apply quiet pings from ``start`` on; defer the others (``out_idx``/``out_act``).

    ``clock`` is ``[watermark, next_tick]``, updated. Returns ``(position, deferred, why)``:
    the scan stops after a ping that reaches the next tick (``TICK``), before a ping too far
    ahead of the watermark (``FUTURE``, the Python driver's limbo decides), or at the end.
    """
    n_def = 0
    reorder = Q[Q_REORDER]
    n = slot.shape[0]
    for i in range(start, n):
        s = slot[i]
        t = ts[i]
        wm = clock[0]
        if wm >= 0:
            if t > wm + Q[Q_FUTURE]:
                return i, n_def, FUTURE
            if t < wm - Q[Q_MAX_AGE]:
                out_idx[n_def] = i
                out_act[n_def] = TOO_OLD
                n_def += 1
                continue
        mode = H[s, MODE]
        if mode != KERNEL or t <= H[s, HEAD] or flags[i] & BACKFILL:
            out_idx[n_def] = i
            out_act[n_def] = ADMIT
            n_def += 1
            if mode == KERNEL:
                H[s, MODE] = DEFERRED
        else:
            ok = True
            if H[s, PEND] != 0:
                if H[s, PEND_TS] <= t - reorder:
                    ok = _release_pending(
                        s, H, F, RI, RF, RB, fs_mask, fs_limit, fs_restr, grid, P, Q
                    )
                else:
                    ok = False  # the buffer would hold two pings: let Python order them
            if not ok:
                out_idx[n_def] = i
                out_act[n_def] = ADMIT
                n_def += 1
                H[s, MODE] = DEFERRED
            else:
                H[s, HEAD] = t
                H[s, PEND] = 1
                H[s, PEND_B] = batch_no
                H[s, PEND_I] = i
                H[s, PEND_TS] = t
                H[s, PEND_SEQ] = seq[i]
                H[s, PEND_FS] = fsid[i]
                H[s, PEND_FLAGS] = flags[i]
                F[s, PEND_LAT] = lat[i]
                F[s, PEND_LNG] = lng[i]
                F[s, PEND_SPEED] = speed[i]
                if reorder <= 0 and not _release_pending(
                    s, H, F, RI, RF, RB, fs_mask, fs_limit, fs_restr, grid, P, Q
                ):
                    out_idx[n_def] = i
                    out_act[n_def] = RELEASE
                    n_def += 1
                    H[s, MODE] = DEFERRED
        if t > clock[0]:
            clock[0] = t
            if t >= clock[1]:
                return i + 1, n_def, TICK
    return n, n_def, END


@njit(cache=True)
def tick_scan(now, n_slots, H, F, RI, RF, RB, fs_mask, fs_limit, fs_restr, grid, P, Q, out):
    """Tick the kernel-mode slots: release buffered pings quietly where possible; list in
    ``out`` the slots that need the Python tick (returns how many)."""
    k = 0
    limit = now - Q[Q_REORDER]
    lost = now - Q[Q_LOST]
    for s in range(n_slots):
        if H[s, MODE] != KERNEL:
            continue
        need = False
        if (
            H[s, PEND] != 0
            and H[s, PEND_TS] <= limit
            and not _release_pending(s, H, F, RI, RF, RB, fs_mask, fs_limit, fs_restr, grid, P, Q)
        ):
            need = True
        if H[s, BEAT_UW] != 0 and H[s, BEAT_TS] < lost:
            need = True
        if now >= H[s, TRIP_DUE] or now >= H[s, ROUND_DUE]:
            need = True
        if need:
            out[k] = s
            k += 1
    return k


def empty_arrays(n: int, ring: int) -> tuple:
    """Hot-state arrays ``H, F, RI, RF, RB`` for ``n`` slots."""
    return (
        np.zeros((n, NH), np.int64),
        np.zeros((n, NF), np.float64),
        np.zeros((n, ring, 2), np.int64),
        np.zeros((n, ring, 2), np.float64),
        np.zeros((n, ring, 2), np.int64),
    )
