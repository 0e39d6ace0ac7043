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

from stream.engine.context import EngineContext
from stream.engine.core import admit, release, tick_into
from stream.engine.hygiene import clock_reason, rejection, static_reason
from stream.engine.state import EngineState, VehicleState
from stream.ping import Ping


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
    kept: list[Ping] = []
    lats: list[float] = []
    lngs: list[float] = []
    a0, a1, a2, a3 = ctx.area
    min_ts = ctx.th.min_valid_ts
    known = ctx.vehicles
    for p in batch:
        # Inline fast path of hygiene.static_reason (NaN compares false and falls through).
        if a0 <= p.lat <= a2 and a1 <= p.lng <= a3 and p.ts >= min_ts and p.vehicle in known:
            kept.append(p)
            lats.append(p.lat)
            lngs.append(p.lng)
        else:
            out.append(rejection(p, static_reason(p, ctx) or "filter_unknown_vehicle"))
    sets = ctx.match_many(lats, lngs)
    if now_ms is None:
        _run(kept, sets, ctx, states, out)
    else:
        _run_at(kept, sets, ctx, states, now_ms, out)


def _run(kept: list, sets: list, ctx: EngineContext, states: EngineState, out: list) -> None:
    """Admit matched pings, clock checks against the watermark (kept in locals, for speed:
    written back to ``states`` before anything that reads it)."""
    future_ms = ctx.th.future_ms
    max_age = ctx.th.max_age_ms
    tick_ms = ctx.th.tick_ms
    reorder = ctx.reorder_ms
    vehicles = states.vehicles
    arrivals = states.arrivals
    wm = states.watermark
    next_tick = states.next_tick
    for p, fs in zip(kept, sets, strict=True):
        arrivals += 1
        ts = p.ts
        if wm >= 0 and (ts > wm + future_ms or ts < wm - max_age):
            if ts > wm:
                states.arrivals, states.watermark, states.next_tick = arrivals, wm, next_tick
                states.limbo.append([arrivals, p, fs.ids])
                _settle_limbo(ctx, states, out)
                wm, next_tick = states.watermark, states.next_tick
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
            while pending and pending[0][0].ts <= limit:
                q, qfs = pending.pop(0)
                release(ctx, vs, q, qfs, out)
        else:
            admit(ctx, vs, p, fs, out)
        if ts > wm:
            wm = ts
            if ts >= next_tick:
                next_tick = (ts // tick_ms + 1) * tick_ms
                tick_all(ctx, states, ts, out)
        if states.limbo:
            states.arrivals, states.watermark, states.next_tick = arrivals, wm, next_tick
            _expire_limbo(ctx, states, out)
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
