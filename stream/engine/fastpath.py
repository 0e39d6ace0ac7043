"""The batch driver's compiled fast path: a micro-batch through the kernel, the rest in Python.

:meth:`FastStore.run` takes a micro-batch in arrival order: static hygiene (vectorised), one
``match_ids`` call, then ``kernel.scan``, which applies quiet pings to kernel-mode vehicles and
defers the others; deferred pings then go, in arrival order, through ``core.admit`` (the
reference engine) with their vehicle written back to Python mode first and moved back to kernel
mode after when its state is simple again. Scans stop at ticks and at pings too far ahead of
the watermark, which the Python driver handles, so the order of everything per vehicle is the
reference order: the same input gives the same events with or without the fast path.
"""

from __future__ import annotations

import numpy as np

from stream.engine import columns as C
from stream.engine.context import KNOWN, M_PER_DEG, EngineContext
from stream.engine.core import admit, release, tick_into
from stream.engine.hotstate import HotState, flags_of
from stream.engine.hygiene import rejection, static_reason
from stream.engine.kernel import scan, tick_scan
from stream.engine.state import EngineState, VehicleState
from stream.engine.zones import ZoneTables
from stream.ping import Ping

# Pings per scan: a vehicle with a deferred ping has all its later pings of the scan deferred
# too (Python must see them in order), so scans are kept short.
SCAN_WINDOW = 256
# A vehicle goes back to kernel mode only after this many event-free pings in Python: moving a
# vehicle between modes costs more than running a few pings in Python.
CALM_PINGS = 6


class FastStore(HotState):
    """Hot state plus the kernel's parameters; runs micro-batches and ticks."""

    def __init__(self, ctx: EngineContext):
        super().__init__(ctx)
        self.calm: dict[int, int] = {}  # slot -> event-free Python pings in a row
        th = ctx.th
        self.zones = ZoneTables(ctx)
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
                th.max_jump_kmh,
                th.uncovered_speed_kmh,
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
                len(ctx.restricted),
                self.ring,
                th.exit_hold_ms,
                th.dwell_ms,
            ],
            np.int64,
        )

    def tick(self, states: EngineState, now: int, out: list) -> None:
        """Tick every vehicle: kernel-mode ones in the kernel where quiet, the rest in Python."""
        ctx = self.ctx
        if len(states.vehicles) != len(self.states):  # vehicles first seen by the Python driver
            for vs in states.vehicles.values():
                self.slot(vs)
        n = len(self.states)
        mask, limit, _ = ctx.fenceset_arrays()
        need = np.empty(n, np.int64)
        k = tick_scan(
            now,
            n,
            self.H,
            self.F,
            self.RI,
            self.RF,
            self.RB,
            self.VI,
            self.VF,
            mask,
            limit,
            self.P,
            self.Q,
            self.zones.arrays(),
            need,
        )
        for s in need[:k].tolist():
            vs = self.states[s]
            self.to_python(vs)
            before = len(out)
            tick_into(ctx, vs, now, out)
            if len(out) == before:
                self.to_kernel(vs)
            else:
                self.calm[s] = 0
        lim, lost = now - ctx.reorder_ms, now - ctx.lost_ms
        for s in np.flatnonzero(self.H[:n, C.MODE] == C.PYTHON).tolist():
            vs = self.states[s]
            pending = vs.pending
            if (
                (pending and pending[0][0].ts <= lim)
                or (vs.beat_uw and vs.beat.ts < lost)
                or (vs.trip is not None and now >= vs.trip.due)
                or (vs.round is not None and now >= vs.round.due)
            ):
                before = len(out)
                tick_into(ctx, vs, now, out)
                if len(out) != before:
                    self.calm[s] = 0
            if self.calm.get(s, 0) >= CALM_PINGS:
                self.to_kernel(vs)
        self.forget_old_batches()

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
        seq = np.array([C.NONE if p.seq is None else p.seq for p in kept], np.int64)
        flags = np.array([flags_of(p) for p in kept], np.int64)
        slots = self.slots
        slot = np.array([slots[p.vehicle] for p in kept], np.int64)
        batch_no = self.current = self.hold(kept)
        out_idx = np.empty(n, np.int64)
        out_act = np.empty(n, np.int64)
        pos = 0
        while pos < n:
            mask, limit, _ = ctx.fenceset_arrays()
            clock = np.array([states.watermark, states.next_tick], np.int64)
            end, k, why = scan(
                pos,
                pos + SCAN_WINDOW,
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
                self.VI,
                self.VF,
                mask,
                limit,
                self.P,
                self.Q,
                self.zones.arrays(),
                clock,
                out_idx,
                out_act,
            )
            states.arrivals += end - pos
            states.watermark = int(clock[0])
            self._deferred(kept, fsid, out_idx[:k].tolist(), out_act[:k].tolist(), out)
            if why == C.TICK:
                tick_ms = ctx.th.tick_ms
                states.next_tick = (states.watermark // tick_ms + 1) * tick_ms
                self.tick(states, states.watermark, out)
            expire()
            if why == C.FUTURE:
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
        calm = self.calm
        for i, a in zip(idx, act, strict=True):
            p = kept[i]
            s = self.slots[p.vehicle]
            vs = self.states[s]
            self.to_python(vs)
            touched[s] = vs
            before = len(out)
            if a == C.ADMIT:
                admit(ctx, vs, p, ctx.fencesets[int(fsid[i])], out)
            elif a == C.TOO_OLD:
                out.append(rejection(p, "filter_too_old"))
            else:  # RELEASE: the kernel buffered it but could not release it quietly
                limit = vs.head - ctx.reorder_ms
                while vs.pending and vs.pending[0][0].ts <= limit:
                    q, qfs = vs.pending.pop(0)
                    release(ctx, vs, q, qfs, out)
            calm[s] = calm.get(s, 0) + 1 if len(out) == before else 0
        for s, vs in touched.items():
            if calm[s] >= CALM_PINGS:
                self.to_kernel(vs)
