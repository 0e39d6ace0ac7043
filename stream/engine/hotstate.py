"""Hot vehicle state in arrays, and moving vehicles between Python and kernel mode.

In *Python* mode a vehicle's :class:`VehicleState` is the whole truth and its pings go through
the reference engine. In *kernel* mode the fields a quiet ping touches — reorder buffer, last
position, stop, beat, the pings applied since — live in this store's arrays and the compiled
kernel applies quiet pings. A vehicle enters kernel mode when its state is simple (nothing
open: no pending exit or dwell, episode, open alert other than none, jump memory, second
buffered ping) and is written back (:meth:`HotState.to_python`) before Python touches it.

Ping objects are never copied into the arrays: the store keeps the micro-batches and refers to
pings by (batch, index), so a vehicle written back holds the very same objects. Batches older
than ``KEEP_BATCHES`` are forgotten unless a buffered ping needs them; recent pings and beats
from them are rebuilt from their numbers (evidence uses only seq, ts, lat and lng).
"""

from __future__ import annotations

import numpy as np

from stream.engine import columns as C
from stream.engine.context import EngineContext, FenceSet
from stream.engine.state import (
    DONE,
    LAT,
    LNG,
    LOADED,
    NEVER,
    OUT,
    OUTN,
    SEQ,
    SLOW,
    Stop,
    VehicleState,
)
from stream.ping import Ping

_LOADED = {None: 0, "empty": 1, "half": 2, "full": 3}
_GROW = 1024
KEEP_BATCHES = 64


class HotState:
    """Arrays of hot state per vehicle slot, and the mode switches."""

    def __init__(self, ctx: EngineContext):
        self.ctx = ctx
        self.ring = ctx.th.evidence_pings
        self.H, self.F, self.RI, self.RF, self.RB, self.VI, self.VF = C.empty_arrays(0, self.ring)
        self.vrefs: dict[int, list] = {}  # slot -> its visit lists mirrored in VI/VF
        self.slots: dict[str, int] = {}
        self.states: list[VehicleState] = []
        self.batches: dict[int, list[Ping]] = {}
        self.loose: dict[int, Ping] = {}  # slot -> buffered ping handed over from Python
        self.batch_no = 0
        self.current = -1  # the micro-batch being scanned (never forgotten meanwhile)

    def slot(self, vs: VehicleState) -> int:
        """The slot of a vehicle (allocated in Python mode on first sight)."""
        s = self.slots.get(vs.vehicle)
        if s is not None:
            return s
        s = len(self.states)
        if s >= len(self.H):
            new = C.empty_arrays(s + _GROW, self.ring)
            old = (self.H, self.F, self.RI, self.RF, self.RB, self.VI, self.VF)
            for dst, src in zip(new, old, strict=True):
                dst[:s] = src[:s]
            self.H, self.F, self.RI, self.RF, self.RB, self.VI, self.VF = new
        self.slots[vs.vehicle] = s
        self.states.append(vs)
        info = self.ctx.vehicles[vs.vehicle]
        h = [0] * C.NH
        h[C.MODE], h[C.MUCK], h[C.KBIT] = C.PYTHON, int(info.muck), C.KIND_BITS[info.kind]
        h[C.WATCH_LOST], h[C.STOP_MS] = int(info.watch_lost), info.stop_ms
        h[C.STOP_KNOWN] = info.stop_known
        self.H[s] = h
        self.F[s, C.VLIMIT] = info.limit
        return s

    def hold(self, pings: list[Ping]) -> int:
        """Keep a micro-batch for references; its number."""
        self.batch_no += 1
        self.batches[self.batch_no] = pings
        return self.batch_no

    def forget_old_batches(self) -> None:
        """Drop old batches no buffered ping of a kernel-mode vehicle refers to."""
        n = len(self.states)
        H = self.H[:n]
        keep = set(H[(H[:, C.MODE] != C.PYTHON) & (H[:, C.PEND] != 0), C.PEND_B].tolist())
        keep.add(self.current)
        horizon = self.batch_no - KEEP_BATCHES
        for b in [b for b in self.batches if b <= horizon and b not in keep]:
            del self.batches[b]

    def _ping(self, s: int, b: int, i: int, vehicle: str, ts: int, lat, lng, seq: int) -> Ping:
        if b < 0:
            ping = self.loose.get(s)
            if ping is not None and ping.ts == ts:
                return ping
        else:
            objs = self.batches.get(b)
            if objs is not None:
                return objs[i]
        return Ping(vehicle, ts, lat, lng, seq=None if seq == C.NONE else seq)

    def to_python(self, vs: VehicleState) -> None:
        """Write a kernel-mode vehicle's hot state back into its VehicleState."""
        s = self.slots.get(vs.vehicle)
        if s is None or self.H[s, C.MODE] == C.PYTHON:
            return
        h = self.H[s].tolist()
        f = self.F[s].tolist()
        sets = self.ctx.fencesets
        vs.head, vs.released = h[C.HEAD], h[C.RELEASED]
        vs.pending = []
        if h[C.PEND]:
            b = h[C.PEND_B]
            assert b < 0 or b in self.batches, "a buffered ping's batch was forgotten"
            ping = self._ping(
                s,
                b,
                h[C.PEND_I],
                vs.vehicle,
                h[C.PEND_TS],
                f[C.PEND_LAT],
                f[C.PEND_LNG],
                h[C.PEND_SEQ],
            )
            vs.pending.append((ping, sets[h[C.PEND_FS]]))
        tr = vs.live
        tr.last_ts, tr.lat, tr.lng = h[C.LAST_TS], f[C.LAT], f[C.LNG]
        tr.seq = None if h[C.SEQ] == C.NONE else h[C.SEQ]
        tr.ids = sets[h[C.FS]].ids
        tr.loaded, tr.near = bool(h[C.LOADED]), bool(h[C.NEAR])
        tr.stop = None
        if h[C.ST_ON]:
            seq = None if h[C.ST_SEQ] == C.NONE else h[C.ST_SEQ]
            tr.stop = Stop(
                seq,
                h[C.ST_TS],
                f[C.ST_LAT],
                f[C.ST_LNG],
                h[C.ST_LAST],
                h[C.ST_MASK],
                bool(h[C.ST_LOADED]),
            )
        n = h[C.RING_N]
        if n:
            pos, ring = h[C.RING_POS], self.ring
            ri, rf, rb = self.RI[s].tolist(), self.RF[s].tolist(), self.RB[s].tolist()
            new = [
                self._ping(s, rb[j][0], rb[j][1], "", ri[j][1], rf[j][0], rf[j][1], ri[j][0])
                for j in ((k % ring) for k in range(pos - n, pos))
            ]
            tr.recent = (tr.recent + new)[-ring:]
        refs = self.vrefs.pop(s, None)
        if refs:
            vi, vf = self.VI[s].tolist(), self.VF[s].tolist()
            for k, v in enumerate(refs):
                v[OUTN], v[SLOW], v[LOADED] = (
                    vi[k][C.VI_OUTN],
                    vi[k][C.VI_SLOW],
                    bool(vi[k][C.VI_LOADED]),
                )
                v[SEQ] = None if vi[k][C.VI_SEQ] == C.NONE else vi[k][C.VI_SEQ]
                v[LAT], v[LNG] = vf[k][C.VF_LAT], vf[k][C.VF_LNG]
        if h[C.BEAT_NEW]:
            vs.beat = self._ping(
                s,
                h[C.BEAT_B],
                h[C.BEAT_I],
                vs.vehicle,
                h[C.BEAT_TS],
                f[C.BEAT_LAT],
                f[C.BEAT_LNG],
                h[C.BEAT_SEQ],
            )
        vs.beat_uw = bool(h[C.BEAT_UW])
        self.H[s, C.MODE] = C.PYTHON

    def to_kernel(self, vs: VehicleState) -> bool:
        """Move a Python-mode vehicle with simple state into the arrays; False if not simple."""
        tr = vs.live
        stop = tr.stop
        if (
            len(vs.pending) > 1
            or vs.open
            or len(tr.visits) > C.KV
            or tr.over is not None
            or tr.dev is not None
            or tr.unc is not None
            or tr.restricted
            or tr.jump is not None
            or (stop is not None and stop.flags)
        ):
            return False
        s = self.slot(vs)
        h = self.H[s].tolist()
        f = self.F[s].tolist()
        h[C.HEAD], h[C.RELEASED] = vs.head, vs.released
        h[C.PEND] = 0
        if vs.pending:
            q, qfs = vs.pending[0]
            if not isinstance(qfs, FenceSet):
                qfs = self.ctx.fenceset(qfs)
            self.loose[s] = q
            h[C.PEND], h[C.PEND_B], h[C.PEND_TS], h[C.PEND_SEQ] = 1, -1, q.ts, _seq(q.seq)
            h[C.PEND_FS], h[C.PEND_FLAGS] = qfs.idx, flags_of(q)
            f[C.PEND_LAT], f[C.PEND_LNG] = q.lat, q.lng
            f[C.PEND_SPEED] = np.nan if q.speed_kmh is None else q.speed_kmh
        fs = self.ctx.fenceset(tr.ids)
        h[C.LAST_TS], h[C.SEQ], h[C.FS] = tr.last_ts, _seq(tr.seq), fs.idx
        f[C.LAT], f[C.LNG] = tr.lat, tr.lng
        h[C.LOADED], h[C.NEAR] = int(tr.loaded), int(tr.near)
        h[C.ST_ON] = int(stop is not None)
        if stop is not None:
            h[C.ST_SEQ], h[C.ST_TS], h[C.ST_LAST] = _seq(stop.seq), stop.ts, stop.last
            h[C.ST_MASK], h[C.ST_LOADED] = stop.mask, int(stop.loaded)
            f[C.ST_LAT], f[C.ST_LNG] = stop.lat, stop.lng
        h[C.RING_N] = h[C.RING_POS] = 0  # the ring collects only pings applied from now on
        h[C.EXITING], h[C.DWELLING], h[C.VMASK] = tr.exiting, tr.dwelling, tr.vmask
        h[C.NVIS] = 0
        if tr.exiting or tr.dwelling:  # the kernel keeps these visits' timers
            refs = list(tr.visits.values())
            self.VI[s, : len(refs)] = [
                (v[OUT], v[OUTN], v[SLOW], v[DONE], _seq(v[SEQ]), int(v[LOADED])) for v in refs
            ]
            self.VF[s, : len(refs)] = [(v[LAT], v[LNG]) for v in refs]
            self.vrefs[s] = refs
            h[C.NVIS] = len(refs)
        beat = vs.beat
        h[C.BEAT], h[C.BEAT_NEW] = int(beat is not None), 0
        if beat is not None:
            h[C.BEAT_TS] = beat.ts
        h[C.BEAT_UW] = int(vs.beat_uw)
        trip, rnd = vs.trip, vs.round
        h[C.TRIP_DUE] = trip.due if trip is not None else NEVER
        h[C.ROUND_DUE] = rnd.due if rnd is not None else NEVER
        h[C.HAS_TRIP] = int(trip is not None)
        if h[C.MUCK]:
            h[C.DEF_LOADED] = int(trip is not None and not trip.overdue)
        else:
            h[C.DEF_LOADED] = int(rnd is not None and not rnd.overdue)
        ok = trip is not None and fs.route_ok.get(trip.permit) is True
        h[C.ROUTE_OK_FS] = fs.idx if ok else -1
        h[C.MODE] = C.KERNEL
        self.H[s] = h
        self.F[s] = f
        return True

    def settle(self) -> None:
        """Write every vehicle back to its VehicleState (all in Python mode)."""
        for s in np.flatnonzero(self.H[: len(self.states), C.MODE] != C.PYTHON).tolist():
            self.to_python(self.states[s])
        self.batches.clear()
        self.loose.clear()
        self.vrefs.clear()


def flags_of(p: Ping) -> int:
    """The kernel's flag bits of a ping (reported load, lift, cover; odd pings go to Python)."""
    f = _LOADED[p.loaded]
    if p.lift:
        f |= C.LIFT
    if p.cover_open:
        f |= C.COVER
    speed = p.speed_kmh
    if p.backfill or (speed is not None and speed != speed):  # NaN speed
        f |= C.PYTHON_ONLY
    return f


def _seq(seq: int | None) -> int:
    return C.NONE if seq is None else seq
