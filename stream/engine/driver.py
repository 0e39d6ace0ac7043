"""Batch driver: run a stream of pings (arrival order) through the engine, fleet-wide.

``process`` takes pings in micro-batches of ``batch_size``: static hygiene for each ping, one
``FenceIndex.match_many`` call for the batch, then, in arrival order, the clock checks, the
per-vehicle :func:`~stream.engine.core.admit` and — whenever the watermark reaches the next
multiple of ``tick_ms`` — a tick of every vehicle with something time-driven pending.

Clock checks are per vehicle, never against other vehicles (issue 11, docs/domain.md
"Reproducibility": one truck's log replayed alone gives the alerts the fleet run gave):

- A ping stamped ``received`` (when the platform received it) is ``filter_future`` when its
  event time is more than ``future_ms`` after the stamp, ``filter_too_old`` when more than
  ``max_age_ms`` before it.
- Without a stamp, the vehicle's own history is the reference: its newest accepted event time
  (``VehicleState.head``). A ping more than ``max_age_ms`` behind it is ``filter_too_old``; a
  ping more than ``future_ms`` ahead of it waits in the *vehicle's* limbo. It is admitted once
  the vehicle's own pings agree that its time has moved on: ``future_quorum`` distinct event
  times among the held ping and the vehicle's later held pings not more than ``future_ms``
  before it (a vehicle quiet for a while, or parked and reporting every few minutes, not a
  broken clock); then they are admitted in arrival order. Otherwise it is rejected
  (``filter_future``) after ``future_hold`` more pings of the vehicle, or at :func:`finish`
  when it lies past the end of the time range processed.
- A vehicle's very first ping has no history to be checked against: it is accepted (only the
  static checks, such as ``min_valid_ts``, apply to it). Its very last, when it comes more than
  ``future_ms`` after the one before and past the end of the time range, is confirmed by
  nothing: without a ``received`` stamp it is rejected — the price of judging a clock by the
  vehicle's own pings alone.

A given ``now_ms`` (data, e.g. a live receive time) replaces both references.

The watermark (the highest event time accepted, fleet-wide) is the time range processed: it
drives ticks (signal lost, deadlines, releasing reorder buffers), not the clock checks. So that
no single vehicle's clock can make the whole fleet's time jump, a ping more than ``future_ms``
ahead of the watermark moves it only when pings of ``future_quorum`` vehicles are that far ahead
(then to the latest time that many vehicles have reached; ``EngineState.ahead``).

The tick schedule depends only on the input (it is kept in :class:`EngineState`), so any split of
the input, with the state carried over, gives the same events in the same order per vehicle.
:func:`finish` ends a run at the final watermark, or at ``until_ms`` when later (no
extrapolation past either): held pings within that time range are admitted (a vehicle's last
report after a silence), the others rejected; every buffered ping is released; a last tick runs
at the end. One vehicle run alone over the same time range ends as the fleet run did.
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


def finish(
    ctx: EngineContext, states: EngineState, until_ms: int | None = None
) -> tuple[EngineState, list]:
    """End of input: settle the limbo, release every buffered ping, and tick.

    A held ping (far ahead of its vehicle's own time, no later ping of the vehicle agreed) is
    admitted when it lies within the time range processed (up to the end below), else rejected
    (``filter_future``).

    Parameters
    ----------
    ctx : EngineContext
        Index, registry, thresholds.
    states : EngineState
        The run's state; updated in place.
    until_ms : int, optional
        End of the time range processed. The final tick is at the later of it and the final
        watermark (no extrapolation past either). Replaying part of a fleet (one truck for a
        case file) with ``until_ms`` = the fleet run's final watermark ends at the same time
        as the fleet run did, so time-driven alerts (signal lost, deadlines) agree (issue 11).

    Returns
    -------
    (states, events)
    """
    out: list = []
    end = states.watermark if until_ms is None else max(states.watermark, until_ms)
    for vs in states.vehicles.values():
        # A held ping inside the time range processed is the vehicle's last word after a
        # silence (parked, reporting every few minutes), not a broken clock: admitted. Past
        # the end, no later ping of the vehicle agreed: the future.
        for _, p, ids in vs.limbo:
            if p.ts <= end:
                admit(ctx, vs, p, ctx.fenceset(ids), out)
            else:
                detail = "held until the end: no later ping of the vehicle agreed"
                out.append(rejection(p, "filter_future", detail, ctx=ctx, ref_ms=vs.head))
        vs.limbo.clear()
    for vs in states.vehicles.values():
        while vs.pending:
            p, fs = vs.pending.pop(0)
            release(ctx, vs, p, fs, out)
    if end >= 0:
        states.watermark = end
        tick_all(ctx, states, end, out)
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
            reason = static_reason(p, ctx) or "filter_unknown_vehicle"
            out.append(rejection(p, reason, ctx=ctx))  # the run's thresholds (issue 11)
    kept = list(compress(batch, keep))
    return kept, list(compress(lats, keep)), list(compress(lngs, keep))


def _run(kept: list, sets: list, ctx: EngineContext, states: EngineState, out: list) -> None:
    """Admit matched pings, clock checks per vehicle (see the module docstring).

    The watermark, its window and the tick schedule are kept in locals, for speed: written
    back to ``states`` before anything that reads them. An ordinary ping costs one compare for
    its clock (a ``received`` stamp one more) and one for the watermark.
    """
    future_ms = ctx.th.future_ms
    max_age = ctx.th.max_age_ms
    tick_ms = ctx.th.tick_ms
    reorder = ctx.reorder_ms
    vehicles = states.vehicles
    ahead = states.ahead
    arrivals = states.arrivals
    wm = states.watermark
    next_tick = states.next_tick
    hi = wm + future_ms if wm >= 0 else _FAR  # the watermark moves freely up to here
    for p, fs in zip(kept, sets, strict=True):
        arrivals += 1
        ts = p.ts
        vs = vehicles.get(p.vehicle)
        if vs is None:
            vs = vehicles[p.vehicle] = VehicleState(p.vehicle)
        ref = p.received  # the clock checks' reference: the receive stamp, else the
        if ref is None:  # vehicle's own newest accepted time (never another vehicle's)
            ref = vs.head
        if vs.limbo or not ref - max_age <= ts <= ref + future_ms:
            # Held pings, off the reference, or the vehicle's first ping: the slow path.
            states.arrivals, states.watermark, states.next_tick = arrivals, wm, next_tick
            taken = _own_clock(ctx, states, vs, p, fs, out)
            wm, next_tick = states.watermark, states.next_tick
            hi = wm + future_ms if wm >= 0 else _FAR
            if taken:
                continue
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
            if ts <= hi and not ahead:
                wm = ts
                hi = wm + future_ms
                if ts >= next_tick:
                    next_tick = (ts // tick_ms + 1) * tick_ms
                    tick_all(ctx, states, ts, out)
            else:
                states.arrivals, states.watermark, states.next_tick = arrivals, wm, next_tick
                _advance(ctx, states, p.vehicle, ts, out)
                wm, next_tick = states.watermark, states.next_tick
                hi = wm + future_ms
    states.arrivals, states.watermark, states.next_tick = arrivals, wm, next_tick


def _own_clock(
    ctx: EngineContext, states: EngineState, vs: VehicleState, p: Ping, fs, out: list
) -> bool:
    """The clock checks' slow path: True when ``p`` was rejected or held (not to be admitted).

    Counts the arrival against the vehicle's held pings first (a held ping expires after
    ``future_hold`` more pings of its vehicle), then checks ``p`` against its ``received``
    stamp, or else against the vehicle's newest accepted time (none for its first ping).
    """
    th = ctx.th
    if vs.limbo:
        _count_arrival(ctx, vs, out)
    ts = p.ts
    ref = p.received
    if ref is not None:
        if ts > ref + th.future_ms:
            out.append(
                rejection(p, "filter_future", "against its receive time", ctx=ctx, ref_ms=ref)
            )
            return True
        if ts < ref - th.max_age_ms:
            detail = "against its receive time"
            out.append(rejection(p, "filter_too_old", detail, ctx=ctx, ref_ms=ref))
            return True
        return False
    head = vs.head
    if head < 0 or head - th.max_age_ms <= ts <= head + th.future_ms:
        return False
    if ts < head:
        detail = "against the vehicle's newest accepted time"
        out.append(rejection(p, "filter_too_old", detail, ctx=ctx, ref_ms=head))
        return True
    vs.limbo.append([th.future_hold, p, fs.ids])
    _settle(ctx, states, vs, out)
    return True


def _count_arrival(ctx: EngineContext, vs: VehicleState, out: list) -> None:
    """One more ping of the vehicle: its held pings that have waited ``future_hold`` expire."""
    keep = []
    for entry in vs.limbo:
        entry[0] -= 1
        if entry[0] > 0:
            keep.append(entry)
        else:
            p = entry[1]
            detail = "held; the vehicle's later pings did not agree that its time moved on"
            out.append(rejection(p, "filter_future", detail, ctx=ctx, ref_ms=vs.head))
    vs.limbo[:] = keep


def _settle(ctx: EngineContext, states: EngineState, vs: VehicleState, out: list) -> None:
    """Admit the vehicle's held pings once its own later pings agree that time moved on."""
    th = ctx.th
    limbo = vs.limbo
    while limbo:
        for i, entry in enumerate(limbo):
            start = entry[1].ts - th.future_ms
            agree = {entry[1].ts} | {e[1].ts for e in limbo[i + 1 :] if e[1].ts >= start}
            if len(agree) >= th.future_quorum:
                break
        else:
            return
        _, p, ids = limbo.pop(i)
        _accept(ctx, states, vs, p, ctx.fenceset(ids), out)
        released = True
        while released:  # in arrival order; each admission may move the vehicle's time on
            released = False
            for entry in list(limbo):
                if entry[1].ts <= vs.head + th.future_ms:
                    limbo.remove(entry)
                    _accept(ctx, states, vs, entry[1], ctx.fenceset(entry[2]), out)
                    released = True


def _run_at(
    kept: list, sets: list, ctx: EngineContext, states: EngineState, now_ms: int, out: list
) -> None:
    """Admit matched pings, clock checks against a given now."""
    for p, fs in zip(kept, sets, strict=True):
        states.arrivals += 1
        reason = clock_reason(p.ts, now_ms, ctx)
        if reason is not None:
            out.append(rejection(p, reason, "against the given now", ctx=ctx, ref_ms=now_ms))
            continue
        vs = states.vehicles.get(p.vehicle)
        if vs is None:
            vs = states.vehicles[p.vehicle] = VehicleState(p.vehicle)
        _accept(ctx, states, vs, p, fs, out)


def _accept(
    ctx: EngineContext, states: EngineState, vs: VehicleState, p: Ping, fs, out: list
) -> None:
    """Admit a ping that passed its clock checks; advance the watermark and tick."""
    admit(ctx, vs, p, fs, out)
    if p.ts > states.watermark:
        _advance(ctx, states, p.vehicle, p.ts, out)


def _advance(ctx: EngineContext, states: EngineState, vehicle: str, ts: int, out: list) -> None:
    """Move the watermark to ``ts`` (accepted for ``vehicle``), unless that is a jump of more
    than ``future_ms`` that fewer than ``future_quorum`` vehicles have made."""
    wm = states.watermark
    th = ctx.th
    ahead = states.ahead
    if wm >= 0 and ts > wm + th.future_ms:
        if ts > ahead.get(vehicle, -1):
            ahead[vehicle] = ts
        quorum = min(th.future_quorum, len(states.vehicles))
        if len(ahead) < quorum:
            return
        ts = sorted(ahead.values())[-quorum]  # the latest time that many vehicles reached
    while ahead:  # vehicles that were ahead and are now within reach
        near = [v for v, t in ahead.items() if t <= ts + th.future_ms]
        if not near:
            break
        for v in near:
            ts = max(ts, ahead.pop(v))
    if ts <= wm:
        return
    states.watermark = ts
    if ts >= states.next_tick:
        tick_ms = th.tick_ms
        states.next_tick = (ts // tick_ms + 1) * tick_ms
        tick_all(ctx, states, ts, out)
