"""Batch driver: run a stream of pings (arrival order) through the engine, fleet-wide.

``process`` takes pings in micro-batches of ``batch_size``: static hygiene for each ping, one
``FenceIndex.match_many`` call for the batch, then, in arrival order, the clock checks against
the watermark, the per-vehicle :func:`~stream.engine.core.admit` and — whenever the watermark
reaches the next multiple of ``tick_ms`` — a tick of every vehicle with something time-driven
pending. Without a given ``now_ms``, a ping more than ``future_ms`` ahead of the watermark waits
in a limbo: it is rejected (``filter_future``) unless, within ``future_hold`` arrivals, pings of
``future_quorum`` vehicles agree that time has moved on (a fleet that was quiet, not a broken
clock); then they are admitted in arrival order.

The tick schedule depends only on the input (it is kept in :class:`EngineState`), so any split of
the input, with the state carried over, gives the same events in the same order per vehicle.
:func:`finish` ends a run: it releases every buffered ping and ticks at the final watermark (no
extrapolation past the last ping).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import compress, repeat
from operator import attrgetter, le

import numpy as np

from stream.engine.context import EngineContext, FenceSet
from stream.engine.core import admit, apply, release, tick_into
from stream.engine.hygiene import clock_reason, rejection, static_reason
from stream.engine.state import EngineState, VehicleState
from stream.ping import Ping

_FAR = 1 << 62  # beyond any event time or arrival count
_TS = attrgetter("ts")
_LAT = attrgetter("lat")
_LNG = attrgetter("lng")
_VEHICLE = attrgetter("vehicle")


def process(
    pings: Sequence[Ping],
    ctx: EngineContext,
    states: EngineState | None = None,
    now_ms: int | None = None,
) -> tuple[EngineState, list]:
    """Run pings, in arrival order, through the engine.

    Parameters
    ----------
    pings : sequence of Ping
        Parsed pings in arrival order.
    ctx : EngineContext
        Index, registry, thresholds.
    states : EngineState, optional
        State carried over from earlier input (a fresh one when omitted); updated in place.
    now_ms : int, optional
        Reference time for the future/too-old clock checks, given as data; by default the
        watermark (the highest event time accepted so far).

    Returns
    -------
    (states, events)
        ``events`` are ``(kind, payload)`` tuples, kinds ``alert``, ``trip``, ``stop``,
        ``fence`` and ``rejected``.
    """
    if states is None:
        states = EngineState()
    out: list = []
    size = ctx.th.batch_size
    for start in range(0, len(pings), size):
        _batch(pings[start : start + size], ctx, states, now_ms, out)
    return states, out


def finish(ctx: EngineContext, states: EngineState) -> tuple[EngineState, list]:
    """End of input: reject what is left in limbo, release every buffered ping, and tick at
    the final watermark (no extrapolation past the last ping)."""
    out: list = []
    for _, p, _ids in states.limbo:
        out.append(rejection(p, "filter_future", "ahead of the watermark until the end"))
    states.limbo.clear()
    for vs in states.vehicles.values():
        while vs.pending:
            p, fs = vs.pending.pop(0)
            release(ctx, vs, p, fs, out)
    if states.watermark >= 0:
        tick_all(ctx, states, states.watermark, out)
    return states, out


def tick_all(ctx: EngineContext, states: EngineState, now: int, out: list) -> None:
    """Tick every vehicle that has something time-driven to do (checks inline, for speed)."""
    limit = now - ctx.reorder_ms
    lost = now - ctx.lost_ms
    for vs in states.vehicles.values():
        pending = vs.pending
        if (
            (pending and pending[0][0].ts <= limit)
            or (vs.beat_uw and vs.beat.ts < lost)
            or (vs.trip is not None and now >= vs.trip.due)
            or (vs.round is not None and now >= vs.round.due)
        ):
            tick_into(ctx, vs, now, out)


def _batch(
    batch: Sequence[Ping], ctx: EngineContext, states: EngineState, now_ms: int | None, out: list
) -> None:
    kept, lats, lngs = screen(batch, ctx, out)
    sets = ctx.match_many(lats, lngs)
    if now_ms is None:
        _run(kept, sets, ctx, states, out)
    else:
        _run_at(kept, sets, ctx, states, now_ms, out)


def screen(batch: Sequence[Ping], ctx: EngineContext, out: list) -> tuple:
    """Static hygiene of a micro-batch: ``(kept pings, their lats, their lngs)``, the rejected
    ones appended to ``out`` in batch order.

    The fast path of :func:`~stream.engine.hygiene.static_reason` for the whole batch at once
    (inside the grown service area, valid time, known vehicle), in numpy and C-level maps
    rather than a Python loop per ping; NaN compares false and takes the slow path.
    """
    lats = list(map(_LAT, batch))
    lngs = list(map(_LNG, batch))
    a0, a1, a2, a3 = ctx.area
    y = np.asarray(lats, dtype=float)
    x = np.asarray(lngs, dtype=float)
    ok = (y >= a0) & (y <= a2) & (x >= a1) & (x <= a3)
    n = len(batch)
    # Times compared as Python ints: an epoch ms can be any integer, even past int64.
    ok &= np.fromiter(map(le, repeat(ctx.th.min_valid_ts), map(_TS, batch)), bool, n)
    ok &= np.fromiter(map(ctx.vehicles.__contains__, map(_VEHICLE, batch)), bool, n)
    if ok.all():
        return batch, lats, lngs
    keep = ok.tolist()
    for p, good in zip(batch, keep, strict=True):
        if not good:
            out.append(rejection(p, static_reason(p, ctx) or "filter_unknown_vehicle"))
    kept = list(compress(batch, keep))
    return kept, list(compress(lats, keep)), list(compress(lngs, keep))


def _run(kept: list, sets: list, ctx: EngineContext, states: EngineState, out: list) -> None:
    """Admit matched pings, clock checks against the watermark (kept in locals, for speed:
    written back to ``states`` before anything that reads it)."""
    future_ms = ctx.th.future_ms
    max_age = ctx.th.max_age_ms
    tick_ms = ctx.th.tick_ms
    hold = ctx.th.future_hold
    reorder = ctx.reorder_ms
    vehicles = states.vehicles
    arrivals = states.arrivals
    wm = states.watermark
    next_tick = states.next_tick
    # The clock checks' window around the watermark and the arrival at which the oldest ping
    # in limbo expires, kept up to date as they change (one compare each per ping).
    hi, lo = (wm + future_ms, wm - max_age) if wm >= 0 else (_FAR, -_FAR)
    expiry = states.limbo[0][0] + hold if states.limbo else _FAR
    for p, fs in zip(kept, sets, strict=True):
        arrivals += 1
        ts = p.ts
        if ts > hi or ts < lo:
            if ts > wm:
                states.arrivals, states.watermark, states.next_tick = arrivals, wm, next_tick
                states.limbo.append([arrivals, p, fs.ids])
                _settle_limbo(ctx, states, out)
                wm, next_tick = states.watermark, states.next_tick
                hi, lo = wm + future_ms, wm - max_age
                expiry = states.limbo[0][0] + hold if states.limbo else _FAR
            else:
                out.append(rejection(p, "filter_too_old"))
            continue
        vs = vehicles.get(p.vehicle)
        if vs is None:
            vs = vehicles[p.vehicle] = VehicleState(p.vehicle)
        if ts > vs.head:  # in order: the common case of admit(), inline
            vs.head = ts
            pending = vs.pending
            pending.append((p, fs))
            limit = ts - reorder
            while pending and pending[0][0].ts <= limit:  # release(), inline
                q, qfs = pending.pop(0)
                vs.released = q.ts
                if qfs.__class__ is not FenceSet:
                    qfs = ctx.fenceset(qfs)  # restored from serialised state
                apply(ctx, vs, vs.live, q, qfs, bool(q.backfill), out)
        else:
            admit(ctx, vs, p, fs, out)
        if ts > wm:
            wm = ts
            hi, lo = wm + future_ms, wm - max_age
            if ts >= next_tick:
                next_tick = (ts // tick_ms + 1) * tick_ms
                tick_all(ctx, states, ts, out)
        if arrivals >= expiry:
            states.arrivals, states.watermark, states.next_tick = arrivals, wm, next_tick
            _expire_limbo(ctx, states, out)
            expiry = states.limbo[0][0] + hold if states.limbo else _FAR
    states.arrivals, states.watermark, states.next_tick = arrivals, wm, next_tick


def _run_at(
    kept: list, sets: list, ctx: EngineContext, states: EngineState, now_ms: int, out: list
) -> None:
    """Admit matched pings, clock checks against a given now."""
    for p, fs in zip(kept, sets, strict=True):
        states.arrivals += 1
        reason = clock_reason(p.ts, now_ms, ctx)
        if reason is not None:
            out.append(rejection(p, reason))
            continue
        _accept(ctx, states, p, fs, out)
        if states.limbo:
            _expire_limbo(ctx, states, out)


def _accept(ctx: EngineContext, states: EngineState, p: Ping, fs, out: list) -> None:
    """Admit a ping that passed every fleet-level check; advance the watermark and tick."""
    vs = states.vehicles.get(p.vehicle)
    if vs is None:
        vs = states.vehicles[p.vehicle] = VehicleState(p.vehicle)
    admit(ctx, vs, p, fs, out)
    ts = p.ts
    if ts > states.watermark:
        states.watermark = ts
        if ts >= states.next_tick:
            tick_ms = ctx.th.tick_ms
            states.next_tick = (ts // tick_ms + 1) * tick_ms
            tick_all(ctx, states, ts, out)


def _settle_limbo(ctx: EngineContext, states: EngineState, out: list) -> None:
    """Let the watermark jump when enough vehicles agree that time has moved on."""
    th = ctx.th
    limbo = states.limbo
    seen = len(states.vehicles) + len({e[1].vehicle for e in limbo} - states.vehicles.keys())
    quorum = min(th.future_quorum, seen)
    times = sorted(ts for ts in {entry[1].ts for entry in limbo})
    for start in times:
        near = {e[1].vehicle for e in limbo if start <= e[1].ts <= start + th.future_ms}
        if len(near) >= quorum:
            break
    else:
        return
    ceiling = start + th.future_ms
    released = True
    while released:  # in arrival order; each release may move the watermark on
        released = False
        keep = []
        for entry in states.limbo:
            if entry[1].ts <= max(ceiling, states.watermark + th.future_ms):
                _accept(ctx, states, entry[1], ctx.fenceset(entry[2]), out)
                released = True
            else:
                keep.append(entry)
        states.limbo = keep


def _expire_limbo(ctx: EngineContext, states: EngineState, out: list) -> None:
    horizon = states.arrivals - ctx.th.future_hold
    while states.limbo and states.limbo[0][0] <= horizon:
        _, p, _ids = states.limbo.pop(0)
        out.append(rejection(p, "filter_future", "ahead of the watermark; no other vehicle agreed"))
