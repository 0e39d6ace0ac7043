"""Layout of the compiled fast path's arrays (``stream.engine.kernel``, ``stream.engine.quiet``).

``H`` (int64) and ``F`` (float64) hold one row of hot state per vehicle slot, with the columns
below; ``RI`` (seq, ts), ``RF`` (lat, lng) and ``RB`` (batch, index of the Ping object) hold the
pings applied in the kernel since the vehicle last left Python mode, as a ring. ``P``/``Q``
are float/int parameters. Ping ``flags`` pack the reported load (0 none, 1 empty, 2 half,
3 full) and the lift, cover and "leave it to Python" bits.
"""

from __future__ import annotations

import numpy as np

NONE = -(1 << 62)  # "no value" in int columns (a seq that was not reported)

# H columns (int64)
(
    MODE, HEAD, RELEASED, PEND, PEND_B, PEND_I, PEND_TS, PEND_SEQ, PEND_FS, PEND_FLAGS,
    LAST_TS, SEQ, FS, LOADED, NEAR, ST_ON, ST_SEQ, ST_TS, ST_LAST, ST_MASK, ST_LOADED,
    RING_N, RING_POS, BEAT, BEAT_NEW, BEAT_B, BEAT_I, BEAT_TS, BEAT_SEQ, BEAT_UW,
    TRIP_DUE, ROUND_DUE, DEF_LOADED, HAS_TRIP, ROUTE_OK_FS, MUCK, KBIT, WATCH_LOST, STOP_MS,
    STOP_KNOWN, NVIS, EXITING, DWELLING, VMASK,
) = range(44)  # fmt: skip
NH = 44
# Visits of a kernel-mode vehicle (at most KV): VI (int64) and VF (float64) fields, the ones the
# kernel reads or changes; the rest stay in the Python visit lists (see stream.engine.state).
KV = 12
VI_OUT, VI_OUTN, VI_SLOW, VI_DONE, VI_SEQ, VI_LOADED = range(6)
NVI = 6
VF_LAT, VF_LNG = range(2)
NVF = 2
V_PENDING = 0  # visit DONE value: dwell still pending (state.PENDING)
# F columns (float64)
LAT, LNG, ST_LAT, ST_LNG, BEAT_LAT, BEAT_LNG, VLIMIT, PEND_LAT, PEND_LNG, PEND_SPEED = range(10)
NF = 10

# MODE: hot state in the VehicleState (Python), in these arrays (kernel), or in the arrays with
# pings of the vehicle deferred to Python in the current scan (so its later pings are too).
PYTHON, KERNEL, DEFERRED = 0, 1, 2
# Ping flags
LOAD_BITS, LIFT, COVER, PYTHON_ONLY = 3, 4, 8, 16
# Vehicle kind bits (restricted zones name kinds)
KIND_BITS = {"muck": 1, "kitchen": 2, "oil": 4}
# Deferred actions
ADMIT, TOO_OLD, RELEASE = 0, 1, 2
# Why a scan stopped
END, TICK, FUTURE = 0, 1, 2
# P (float) and Q (int) parameter indices
(P_M_LAT, P_M_LNG, P_JUMP2, P_STOP_R2, P_SLOW, P_MOVING, P_GRID_LEN2, P_INV_GRID,
 P_MAX_JUMP, P_UNCOVERED) = range(10)  # fmt: skip
(Q_REORDER, Q_LOST, Q_FUTURE, Q_MAX_AGE, Q_STOP_REPORT, Q_KNOWN, Q_NZONES, Q_RING, Q_HOLD,
 Q_DWELL) = range(10)  # fmt: skip


def empty_arrays(n: int, ring: int) -> tuple:
    """Hot-state arrays ``H, F, RI, RF, RB, VI, VF`` for ``n`` slots."""
    return (
        np.zeros((n, NH), np.int64),
        np.zeros((n, NF), np.float64),
        np.zeros((n, ring, 2), np.int64),
        np.zeros((n, ring, 2), np.float64),
        np.zeros((n, ring, 2), np.int64),
        np.zeros((n, KV, NVI), np.int64),
        np.zeros((n, KV, NVF), np.float64),
    )
