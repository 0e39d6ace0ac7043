"""The batch driver's compiled fast path: hot vehicle state in arrays, quiet pings in a kernel.

Each vehicle is in one of two modes. In *Python* mode its :class:`VehicleState` is the whole
truth and its pings go through the reference engine (``stream.engine.core``). In *kernel* mode
the fields a quiet ping touches — reorder buffer head, last position, stop, recent pings, beat —
live in this store's arrays and ``stream.engine.kernel.scan`` applies its quiet pings. A vehicle
enters kernel mode when its state is simple (nothing open: no pending exit or dwell, episode,
open alert, jump memory, second buffered ping) and leaves it, written back to its VehicleState,
before the Python engine touches it again. ``EngineState.to_dict`` writes every vehicle back
first, so serialised state never depends on the mode.

Ping objects are not copied into the arrays: the store keeps the micro-batches (and small
"batches" of objects handed over from Python state) and refers to pings by (batch, index), so
writing a vehicle back puts the very same objects in its state.
"""

from __future__ import annotations

import numpy as np

from stream.engine import kernel as K
from stream.engine.context import KNOWN, M_PER_DEG, EngineContext, FenceSet
from stream.engine.core import admit, release, tick_into
from stream.engine.hygiene import rejection, static_reason
from stream.engine.state import NEVER, EngineState, Stop, VehicleState
from stream.ping import Ping

_LOADED = {None: 0, "empty": 1, "half": 2, "full": 3}
_GROW = 1024
_KEEP_BATCHES = 64  # micro-batches kept for references; older ones are rebuilt from numbers


class FastStore:
    """Hot state of kernel-mode vehicles, and the parameters the kernel reads."""

    def __init__(self, ctx: EngineContext):
        self.ctx = ctx
        th = ctx.th
        self.ring = th.evidence_pings
        self.H, self.F, self.RI, self.RF, self.RB = K.empty_arrays(0, self.ring)
        self.slots: dict[str, int] = {}
        self.states: list[VehicleState] = []
        self.batches: dict[int, list[Ping]] = {}
        self.batch_no = 0
        self.current = -1  # batch number of the micro-batch being scanned
        grid, r0, c0 = ctx.near_grid
        self.grid = grid
        self.P = np.array(
            [
                M_PER_DEG,
                ctx.m_lng,
                ctx.jump_min2,
                ctx.stop_r2,
                th.slow_kmh,
                th.moving_kmh,
                ctx.grid_len2,
                50.0,
            ],
            np.float64,
        )
        self.Q = np.array(
            [
                th.reorder_ms,
                th.signal_lost_ms,
                th.future_ms,
                th.max_age_ms,
                th.stop_report_ms,
                KNOWN,
                1 if ctx.restricted else 0,
                r0,
                c0,
                self.ring,
            ],
            np.int64,
        )
        self.tick_out = np.zeros(0, np.int64)

    # -- slots ------------------------------------------------------------------------------
    def slot(self, vs: VehicleState) -> int:
        """The slot of a vehicle (allocated in Python mode on first sight)."""
        s = self.slots.get(vs.vehicle)
        if s is not None:
            return s
        s = len(self.states)
        if s >= len(self.H):
            self._grow(s + _GROW)
        self.slots[vs.vehicle] = s
        self.states.append(vs)
        info = self.ctx.vehicles[vs.vehicle]
        self.H[s] = 0
        self.H[s, K.MODE] = K.PYTHON
        self.H[s, K.MUCK] = info.muck
        self.H[s, K.WATCH_LOST] = info.watch_lost
        self.H[s, K.STOP_MS] = info.stop_ms
        self.H[s, K.STOP_KNOWN] = info.stop_known
        self.F[s, K.VLIMIT] = info.limit
        return s

    def _grow(self, n: int) -> None:
        new = K.empty_arrays(n, self.ring)
        m = len(self.H)
        for dst, src in zip(new, (self.H, self.F, self.RI, self.RF, self.RB), strict=True):
            dst[:m] = src
        self.H, self.F, self.RI, self.RF, self.RB = new
        self.tick_out = np.zeros(n, np.int64)

    def _ping(self, b: int, i: int, vehicle: str, ts: int, lat: float, lng: float, seq: int):
        objs = self.batches.get(b)
        if objs is not None:
            return objs[i]
        return Ping(vehicle, ts, lat, lng, seq=None if seq == K.NONE else seq)

    def _hold(self, objs: list[Ping]) -> int:
        self.batch_no += 1
        self.batches[self.batch_no] = objs
        return self.batch_no

    # -- modes ------------------------------------------------------------------------------
    def to_python(self, vs: VehicleState) -> None:
        """Write a kernel-mode vehicle's hot state back to its VehicleState."""
        s = self.slots.get(vs.vehicle)
        if s is None or self.H[s, K.MODE] == K.PYTHON:
            return
        h = self.H[s].tolist()
        f = self.F[s].tolist()
        sets = self.ctx.fencesets
        vs.head, vs.released = h[K.HEAD], h[K.RELEASED]
        if h[K.PEND]:
            assert h[K.PEND_B] in self.batches, "a buffered ping's batch was forgotten"
            ping = self._ping(
                h[K.PEND_B],
                h[K.PEND_I],
                vs.vehicle,
                h[K.PEND_TS],
                f[K.PEND_LAT],
                f[K.PEND_LNG],
                h[K.PEND_SEQ],
            )
            vs.pending = [(ping, sets[h[K.PEND_FS]])]
        else:
            vs.pending = []
        tr = vs.live
        tr.last_ts, tr.lat, tr.lng = h[K.LAST_TS], f[K.LAT], f[K.LNG]
        tr.seq = None if h[K.SEQ] == K.NONE else h[K.SEQ]
        tr.ids = sets[h[K.FS]].ids
        tr.loaded, tr.near = bool(h[K.LOADED]), bool(h[K.NEAR])
        tr.stop = None
        if h[K.ST_ON]:
            seq = None if h[K.ST_SEQ] == K.NONE else h[K.ST_SEQ]
            tr.stop = Stop(
                seq,
                h[K.ST_TS],
                f[K.ST_LAT],
                f[K.ST_LNG],
                h[K.ST_LAST],
                h[K.ST_MASK],
                bool(h[K.ST_LOADED]),
            )
        n, pos, ring = h[K.RING_N], h[K.RING_POS], self.ring
        ri, rf, rb = self.RI[s].tolist(), self.RF[s].tolist(), self.RB[s].tolist()
        recent = []
        for k in range(pos - n, pos):
            j = k % ring
            recent.append(
                self._ping(rb[j][0], rb[j][1], "", ri[j][1], rf[j][0], rf[j][1], ri[j][0])
            )
        tr.recent = recent
        if h[K.BEAT]:
            vs.beat = self._ping(
                h[K.BEAT_B],
                h[K.BEAT_I],
                vs.vehicle,
                h[K.BEAT_TS],
                f[K.BEAT_LAT],
                f[K.BEAT_LNG],
                h[K.BEAT_SEQ],
            )
        vs.beat_uw = bool(h[K.BEAT_UW])
        self.H[s, K.MODE] = K.PYTHON

    def to_kernel(self, vs: VehicleState) -> bool:
        """Move a Python-mode vehicle with simple state into the arrays; False if not simple."""
        tr = vs.live
        stop = tr.stop
        if (
            len(vs.pending) > 1
            or vs.open
            or tr.exiting
            or tr.dwelling
            or tr.over is not None
            or tr.dev is not None
            or tr.unc is not None
            or tr.restricted
            or tr.jump is not None
            or (stop is not None and stop.flags)
            or len(tr.recent) > self.ring
        ):
            return False
        s = self.slot(vs)
        ctx = self.ctx
        recent = tr.recent
        objs = list(recent)
        h = self.H[s].tolist()
        f = self.F[s].tolist()
        b = self._hold(objs)
        h[K.HEAD], h[K.RELEASED] = vs.head, vs.released
        h[K.PEND] = 0
        if vs.pending:
            q, qfs = vs.pending[0]
            if not isinstance(qfs, FenceSet):
                qfs = ctx.fenceset(qfs)
            objs.append(q)
            h[K.PEND], h[K.PEND_B], h[K.PEND_I], h[K.PEND_TS] = 1, b, len(objs) - 1, q.ts
            h[K.PEND_SEQ], h[K.PEND_FS], h[K.PEND_FLAGS] = _seq(q.seq), qfs.idx, flags_of(q)
            f[K.PEND_LAT], f[K.PEND_LNG] = q.lat, q.lng
            f[K.PEND_SPEED] = np.nan if q.speed_kmh is None else q.speed_kmh
        fs = ctx.fenceset(tr.ids)
        h[K.LAST_TS], h[K.SEQ], h[K.FS] = tr.last_ts, _seq(tr.seq), fs.idx
        f[K.LAT], f[K.LNG] = tr.lat, tr.lng
        h[K.LOADED], h[K.NEAR] = int(tr.loaded), int(tr.near)
        h[K.ST_ON] = int(stop is not None)
        if stop is not None:
            h[K.ST_SEQ], h[K.ST_TS], h[K.ST_LAST] = _seq(stop.seq), stop.ts, stop.last
            h[K.ST_MASK], h[K.ST_LOADED] = stop.mask, int(stop.loaded)
            f[K.ST_LAT], f[K.ST_LNG] = stop.lat, stop.lng
        n = len(recent)
        if n:
            self.RI[s, :n] = [(_seq(r.seq), r.ts) for r in recent]
            self.RF[s, :n] = [(r.lat, r.lng) for r in recent]
            self.RB[s, :n] = [(b, k) for k in range(n)]
        h[K.RING_N], h[K.RING_POS] = n, n % self.ring
        beat = vs.beat
        h[K.BEAT] = int(beat is not None)
        if beat is not None:
            objs.append(beat)
            h[K.BEAT_B], h[K.BEAT_I] = b, len(objs) - 1
            h[K.BEAT_TS], h[K.BEAT_SEQ] = beat.ts, _seq(beat.seq)
            f[K.BEAT_LAT], f[K.BEAT_LNG] = beat.lat, beat.lng
        h[K.BEAT_UW] = int(vs.beat_uw)
        trip, rnd = vs.trip, vs.round
        h[K.TRIP_DUE] = trip.due if trip is not None else NEVER
        h[K.ROUND_DUE] = rnd.due if rnd is not None else NEVER
        h[K.HAS_TRIP] = int(trip is not None)
        if h[K.MUCK]:
            h[K.DEF_LOADED] = int(trip is not None and not trip.overdue)
        else:
            h[K.DEF_LOADED] = int(rnd is not None and not rnd.overdue)
        ok = trip is not None and fs.route_ok.get(trip.permit) is True
        h[K.ROUTE_OK_FS] = fs.idx if ok else -1
        h[K.MODE] = K.KERNEL
        self.H[s] = h
        self.F[s] = f
        return True

    def settle(self) -> None:
        """Write every vehicle back to its VehicleState (all in Python mode)."""
        for s in np.flatnonzero(self.H[: len(self.states), K.MODE] != K.PYTHON).tolist():
            self.to_python(self.states[s])
        self.batches.clear()

    # -- ticks --------------------------------------------------------------------------------
    def tick(self, states: EngineState, now: int, out: list) -> None:
        """Tick every vehicle: kernel-mode ones in the kernel where quiet, the rest in Python."""
        ctx = self.ctx
        if len(states.vehicles) != len(self.states):  # vehicles first seen by the Python driver
            for vs in states.vehicles.values():
                self.slot(vs)
        n = len(self.states)
        mask, limit, restr = ctx.fenceset_arrays()
        k = K.tick_scan(
            now,
            n,
            self.H,
            self.F,
            self.RI,
            self.RF,
            self.RB,
            mask,
            limit,
            restr,
            self.grid,
            self.P,
            self.Q,
            self.tick_out,
        )
        for s in self.tick_out[:k].tolist():
            vs = self.states[s]
            self.to_python(vs)
            tick_into(ctx, vs, now, out)
            self.to_kernel(vs)
        lim, lost = now - ctx.reorder_ms, now - ctx.lost_ms
        for s in np.flatnonzero(self.H[:n, K.MODE] == K.PYTHON).tolist():
            vs = self.states[s]
            pending = vs.pending
            if (
                (pending and pending[0][0].ts <= lim)
                or (vs.beat_uw and vs.beat.ts < lost)
                or (vs.trip is not None and now >= vs.trip.due)
                or (vs.round is not None and now >= vs.round.due)
            ):
                tick_into(ctx, vs, now, out)
            self.to_kernel(vs)
        self._prune()

    def _prune(self) -> None:
        """Forget old batches, except those holding buffered pings of kernel-mode vehicles;
        recent pings and beats of forgotten batches are rebuilt from the arrays when needed
        (only their numbers are used)."""
        n = len(self.states)
        H = self.H[:n]
        held = H[(H[:, K.MODE] != K.PYTHON) & (H[:, K.PEND] != 0), K.PEND_B]
        keep = set(held.tolist())
        keep.add(self.current)  # the micro-batch being scanned
        horizon = self.batch_no - _KEEP_BATCHES
        for b in [b for b in self.batches if b <= horizon and b not in keep]:
            del self.batches[b]

    # -- the batch ---------------------------------------------------------------------------
    def run(self, batch: list[Ping], states: EngineState, out: list, on_future, expire) -> None:
        """Run a micro-batch of pings, in arrival order.

        ``on_future(ping, fenceset)`` handles a ping too far ahead of the watermark (the
        driver's limbo, counting its arrival); ``expire()`` drops limbo entries held too long.
        """
        ctx = self.ctx
        kept = self._static(batch, states, out)
        n = len(kept)
        if not n:
            return
        lat = np.array([p.lat for p in kept], np.float64)
        lng = np.array([p.lng for p in kept], np.float64)
        ts = np.array([p.ts for p in kept], np.int64)
        fsid = ctx.match_ids(lat, lng)
        speed = np.array([np.nan if p.speed_kmh is None else p.speed_kmh for p in kept])
        seq = np.array([K.NONE if p.seq is None else p.seq for p in kept], np.int64)
        flags = np.array([flags_of(p) for p in kept], np.int64)
        slots = self.slots
        slot = np.array([slots[p.vehicle] for p in kept], np.int64)
        batch_no = self.current = self._hold(kept)
        out_idx = np.empty(n, np.int64)
        out_act = np.empty(n, np.int64)
        pos = 0
        while pos < n:
            mask, limit, restr = ctx.fenceset_arrays()
            clock = np.array([states.watermark, states.next_tick], np.int64)
            end, k, why = K.scan(
                pos,
                slot,
                ts,
                lat,
                lng,
                speed,
                flags,
                seq,
                fsid,
                batch_no,
                self.H,
                self.F,
                self.RI,
                self.RF,
                self.RB,
                mask,
                limit,
                restr,
                self.grid,
                self.P,
                self.Q,
                clock,
                out_idx,
                out_act,
            )
            states.arrivals += end - pos
            states.watermark = int(clock[0])
            self._deferred(kept, fsid, out_idx[:k].tolist(), out_act[:k].tolist(), out)
            if why == K.TICK:
                tick_ms = ctx.th.tick_ms
                states.next_tick = (states.watermark // tick_ms + 1) * tick_ms
                self.tick(states, states.watermark, out)
            expire()
            if why == K.FUTURE:
                on_future(kept[end], ctx.fencesets[int(fsid[end])])
                expire()
                end += 1
            pos = end

    def _static(self, batch: list[Ping], states: EngineState, out: list) -> list[Ping]:
        """Pings passing the static checks (vectorised); the others rejected with reasons."""
        ctx = self.ctx
        lat = np.array([p.lat for p in batch], np.float64)
        lng = np.array([p.lng for p in batch], np.float64)
        ts = np.array([p.ts for p in batch], np.int64)
        a0, a1, a2, a3 = ctx.area
        good = (lat >= a0) & (lat <= a2) & (lng >= a1) & (lng <= a3) & (ts >= ctx.th.min_valid_ts)
        slots, known = self.slots, ctx.vehicles
        for i, p in enumerate(batch):
            if p.vehicle not in slots:
                if p.vehicle in known:
                    vs = states.vehicles.get(p.vehicle)
                    if vs is None:
                        vs = states.vehicles[p.vehicle] = VehicleState(p.vehicle)
                    self.slot(vs)
                else:
                    good[i] = False
        if good.all():
            return batch
        kept = []
        for p, ok in zip(batch, good.tolist(), strict=True):
            if ok:
                kept.append(p)
            else:
                out.append(rejection(p, static_reason(p, ctx) or "filter_unknown_vehicle"))
        return kept

    def _deferred(self, kept: list[Ping], fsid, idx: list[int], act: list[int], out: list) -> None:
        """Run the deferred pings through the Python engine, in arrival order."""
        if not idx:
            return
        ctx = self.ctx
        touched = {}
        for i, a in zip(idx, act, strict=True):
            p = kept[i]
            vs = self.states[self.slots[p.vehicle]]
            self.to_python(vs)
            touched[vs.vehicle] = vs
            if a == K.ADMIT:
                admit(ctx, vs, p, ctx.fencesets[int(fsid[i])], out)
            elif a == K.TOO_OLD:
                out.append(rejection(p, "filter_too_old"))
            else:  # RELEASE: the kernel buffered it but could not release it quietly
                limit = vs.head - ctx.reorder_ms
                while vs.pending and vs.pending[0][0].ts <= limit:
                    q, qfs = vs.pending.pop(0)
                    release(ctx, vs, q, qfs, out)
        for vs in touched.values():
            self.to_kernel(vs)


def flags_of(p: Ping) -> int:
    """The kernel's flag bits of a ping (reported load, lift, cover, backfill)."""
    f = _LOADED[p.loaded]
    if p.lift:
        f |= K.LIFT
    if p.cover_open:
        f |= K.COVER
    speed = p.speed_kmh
    if p.backfill or (speed is not None and speed != speed):  # NaN speed: leave it to Python
        f |= K.BACKFILL
    return f


def _seq(seq: int | None) -> int:
    return K.NONE if seq is None else seq
