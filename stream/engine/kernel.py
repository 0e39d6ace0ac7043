"""Compiled fast path of the engine: quiet pings of vehicles whose state is simple.

``scan`` walks a micro-batch in arrival order, doing for each ping what the batch driver and
``core.admit`` do — clock checks, watermark, the reorder buffer — and, for the ping the buffer
releases, what ``core.apply`` does when the ping is quiet (``stream.engine.quiet``). Any other
ping is *deferred*, in order, to the Python engine, which remains the reference; so is every
later ping of that vehicle in the scan. ``tick_scan`` does the same for a tick. The array layout
is in ``stream.engine.columns``; the store around it in ``stream.engine.hotstate``.
"""

from __future__ import annotations

from numba import njit

from stream.engine import columns as C
from stream.engine.quiet import release_pending


@njit(cache=True)
def scan(
    start,
    stop,
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
    VI,
    VF,
    fs_mask,
    fs_limit,
    P,
    Q,
    Z,
    clock,
    out_idx,
    out_act,
):
    """Apply quiet pings from ``start`` to ``stop``; defer the others (``out_idx``/``out_act``).

    ``clock`` is ``[watermark, next_tick]``, updated. Returns ``(position, deferred, why)``:
    the scan stops after a ping that reaches the next tick (``C.TICK``), before a ping too far
    ahead of the watermark (``C.FUTURE``: the Python driver's limbo decides), or at the end.
    """
    n_def = 0
    reorder = Q[C.Q_REORDER]
    n = min(stop, slot.shape[0])
    for i in range(start, n):
        s = slot[i]
        t = ts[i]
        wm = clock[0]
        if wm >= 0 and t > wm + Q[C.Q_FUTURE]:
            return i, n_def, C.FUTURE
        if wm >= 0 and t < wm - Q[C.Q_MAX_AGE]:
            out_idx[n_def] = i
            out_act[n_def] = C.TOO_OLD
            n_def += 1
            continue
        mode = H[s, C.MODE]
        act = -1
        if mode != C.KERNEL or t <= H[s, C.HEAD] or flags[i] & C.PYTHON_ONLY:
            act = C.ADMIT  # out of order, or the vehicle is Python's for now
        elif H[s, C.PEND] != 0 and (
            H[s, C.PEND_TS] > t - reorder  # the buffer would hold two pings
            or not release_pending(s, H, F, RI, RF, RB, VI, VF, fs_mask, fs_limit, P, Q, Z)
        ):
            act = C.ADMIT
        else:
            H[s, C.HEAD] = t
            H[s, C.PEND] = 1
            H[s, C.PEND_B] = batch_no
            H[s, C.PEND_I] = i
            H[s, C.PEND_TS] = t
            H[s, C.PEND_SEQ] = seq[i]
            H[s, C.PEND_FS] = fsid[i]
            H[s, C.PEND_FLAGS] = flags[i]
            F[s, C.PEND_LAT] = lat[i]
            F[s, C.PEND_LNG] = lng[i]
            F[s, C.PEND_SPEED] = speed[i]
            if reorder <= 0 and not release_pending(
                s, H, F, RI, RF, RB, VI, VF, fs_mask, fs_limit, P, Q, Z
            ):
                act = C.RELEASE  # buffered, but its release is not quiet
        if act >= 0:
            out_idx[n_def] = i
            out_act[n_def] = act
            n_def += 1
            if mode == C.KERNEL:
                H[s, C.MODE] = C.DEFERRED
        if t > clock[0]:
            clock[0] = t
            if t >= clock[1]:
                return i + 1, n_def, C.TICK
    return n, n_def, C.END


@njit(cache=True)
def tick_scan(now, n_slots, H, F, RI, RF, RB, VI, VF, fs_mask, fs_limit, P, Q, Z, out):
    """Tick the kernel-mode slots: release buffered pings quietly where possible; list in
    ``out`` the slots that need the Python tick (returns how many)."""
    k = 0
    limit = now - Q[C.Q_REORDER]
    lost = now - Q[C.Q_LOST]
    for s in range(n_slots):
        if H[s, C.MODE] != C.KERNEL:
            continue
        need = (
            H[s, C.PEND] != 0
            and H[s, C.PEND_TS] <= limit
            and not release_pending(s, H, F, RI, RF, RB, VI, VF, fs_mask, fs_limit, P, Q, Z)
        )
        if (H[s, C.BEAT_UW] != 0 and H[s, C.BEAT_TS] < lost) or now >= H[s, C.TRIP_DUE]:
            need = True
        if need or now >= H[s, C.ROUND_DUE]:
            out[k] = s
            k += 1
    return k
