"""The per-vehicle state machine: ``step`` for a ping, ``tick`` for the passing of time.

``step`` routes a ping (see the late/out-of-order policy in ``stream.engine``): into the reorder
buffer, from which pings are released to the live track in event-time order; into the backfill
(shadow) track; or out as rejected. A released ping goes through the track pipeline:
duplicate and jump hygiene, signal-lost gap, trip/round deadlines, fence visits and dwell
(loads, unloads, collections, deliveries), stops, then the per-ping rules.

The per-ping path is kept cheap: plain attribute reads and int/float compares, with each rule
behind a guard that is false for an ordinary ping (same fences as before, under the limit, no
cover/lift flags, nothing open).
"""

from __future__ import annotations

import bisect
import math
from math import floor

from stream.engine import places, rounds, stops, trips
from stream.engine.context import (
    CORRIDOR,
    DEPOT,
    M_PER_DEG,
    NEAR_INV,
    NEAR_KEY,
    EngineContext,
    FenceSet,
)
from stream.engine.facts import Facts
from stream.engine.hygiene import (
    STALE,
    clock_reason,
    filter_duplicate,
    filter_impossible_jump,
    rejection,
    static_reason,
    unreported_speed,
)
from stream.engine.rules import cover, dumping, overspeed, restricted, route, signal
from stream.engine.state import VehicleState
from stream.engine.track_state import Stop, Track
from stream.ping import Ping

SHADOW = ":shadow"


def step(
    state: VehicleState | None,
    ping: Ping,
    ctx: EngineContext,
    fences=None,
    now_ms: int | None = None,
) -> tuple[VehicleState | None, list]:
    """Apply one ping to one vehicle's state.

    Parameters
    ----------
    state : VehicleState or None
        The vehicle's state (None for a vehicle not seen yet).
    ping : Ping
        The ping, WGS-84, event time in epoch ms.
    ctx : EngineContext
        Index, registry, thresholds.
    fences : FenceSet or iterable of fence ids, optional
        The fences covering the ping, when already matched (the batch driver does); else the
        context's index is asked.
    now_ms : int, optional
        Reference time for ``filter_future`` / ``filter_too_old`` (e.g. the receive time or the
        watermark), given as data; without it the ping's own ``received`` stamp is (issue 11),
        and without either those clock checks are skipped.

    Returns
    -------
    (state, events)
        The same state object, updated (None if the ping was rejected before a state was
        needed), and the events: ``Event(kind, payload)`` (``stream.engine.events``) with kind
        ``alert``, ``trip``, ``stop``, ``fence`` or ``rejected``.
    """
    out: list = []
    reason = static_reason(ping, ctx)
    ref = ping.received if now_ms is None else now_ms
    if reason is None and ref is not None:
        reason = clock_reason(ping.ts, ref, ctx)
    if reason is not None:
        out.append(rejection(ping, reason, ctx=ctx, ref_ms=ref))
        return state, out
    if state is None:
        state = VehicleState(ping.vehicle)
    if fences is None:
        fs = ctx.match(ping.lat, ping.lng)
    elif isinstance(fences, FenceSet):
        fs = fences
    else:
        fs = ctx.fenceset(fences)
    admit(ctx, state, ping, fs, out)
    return state, out


def tick(state: VehicleState, now_ms: int, ctx: EngineContext) -> tuple[VehicleState, list]:
    """Let time pass for one vehicle up to ``now_ms`` (the watermark, given as data).

    Releases buffered pings older than the reorder window, then runs the time-driven rules:
    ``signal_lost``, trip and round deadlines.
    """
    out: list = []
    tick_into(ctx, state, now_ms, out)
    return state, out


def tick_into(ctx: EngineContext, vs: VehicleState, now: int, out: list) -> None:
    """:func:`tick`, appending its events to ``out``."""
    pending = vs.pending
    if pending:
        limit = now - ctx.reorder_ms
        while pending and pending[0][0].ts <= limit:  # release(), inline
            p, fs = pending.pop(0)
            vs.released = p.ts
            if fs.__class__ is not FenceSet:
                fs = ctx.fenceset(fs)  # restored from serialised state
            apply(ctx, vs, vs.live, p, fs, bool(p.backfill), out)
    if vs.vehicle not in ctx.vehicles:
        return  # no longer supervised: its timers stop (its state stays, should it come back)
    if vs.beat_uw:
        signal.on_tick(ctx, vs, now, out)
    if vs.trip is not None:
        trips.check_deadline(ctx, vs, now, out)
    if vs.round is not None:
        rounds.check_deadline(ctx, vs, now, out)


def admit(ctx: EngineContext, vs: VehicleState, p: Ping, fs: FenceSet, out: list) -> None:
    """Route a ping that passed the static checks: reorder buffer, backfill track, or reject.

    A blind-area re-send (flagged ``backfill``, or more than ``backfill_lag_ms`` behind the
    vehicle's newest ping) older than that newest ping goes to the backfill track even while
    the newest is still in the reorder buffer: judged by the vehicle's own pings only, not by
    how far ticks have released its buffer, so a vehicle replayed alone routes it the same way
    as the fleet run did (issue 11).
    """
    ts = p.ts
    head = vs.head
    pending = vs.pending
    if ts > head:
        vs.head = ts
        pending.append((p, fs))
    else:
        blind = p.backfill or head - ts > ctx.th.backfill_lag_ms
        if ts <= vs.released or blind:
            _behind(ctx, vs, p, fs, blind, out)
            return
        if any(q.ts == ts for q, _ in pending):
            out.append(rejection(p, "filter_duplicate", "same event time as a buffered ping"))
            return
        bisect.insort(pending, (p, fs), key=lambda item: item[0].ts)
    limit = vs.head - ctx.th.reorder_ms
    while pending and pending[0][0].ts <= limit:
        q, qfs = pending.pop(0)
        release(ctx, vs, q, qfs, out)


def _behind(
    ctx: EngineContext, vs: VehicleState, p: Ping, fs: FenceSet, blind: bool, out: list
) -> None:
    """A ping behind the live stream: a duplicate, a blind-area backfill, or stale."""
    ts = p.ts
    shadow = vs.shadow
    if (
        filter_duplicate(vs.live, p)
        or (shadow is not None and filter_duplicate(shadow, p))
        or any(q.ts == ts for q, _ in vs.pending)
    ):
        out.append(rejection(p, "filter_duplicate", "same event time as an accepted ping"))
    elif blind:
        backfill(ctx, vs, p, fs, out)
    else:
        out.append(rejection(p, STALE, ctx=ctx, ref_ms=vs.released))


def release(ctx: EngineContext, vs: VehicleState, p: Ping, fs: FenceSet, out: list) -> None:
    """Hand a ping from the reorder buffer to the live track."""
    vs.released = p.ts
    if fs.__class__ is not FenceSet:
        fs = ctx.fenceset(fs)  # restored from serialised state
    apply(ctx, vs, vs.live, p, fs, bool(p.backfill), out)


def backfill(ctx: EngineContext, vs: VehicleState, p: Ping, fs: FenceSet, out: list) -> None:
    """Replay a blind-area ping on the shadow track, in order among the segment's pings."""
    shadow = vs.shadow
    if shadow is None or p.ts <= shadow.last_ts or p.ts > shadow.until:
        shadow = vs.shadow = Track(tag=SHADOW)
        for key in [k for k in vs.open if k.endswith(SHADOW)]:
            del vs.open[key]
        # Live fixes still in the reorder buffer count as live here (issue 11: whether a tick
        # has released them yet depends on the other vehicles of the run).
        live = [*vs.live.recent, *(q for q, _ in vs.pending)]
        for q in reversed(live):
            if q.ts < p.ts:  # continue from the last live fix before the segment
                shadow.seq, shadow.last_ts, shadow.lat, shadow.lng = q.seq, q.ts, q.lat, q.lng
                break
            shadow.until = q.ts  # the first live fix after it (as far as recent pings reach)
    if not isinstance(fs, FenceSet):
        fs = ctx.fenceset(fs)
    apply(ctx, vs, shadow, p, fs, True, out)


def apply(
    ctx: EngineContext, vs: VehicleState, tr: Track, p: Ping, fs: FenceSet, late: bool, out: list
) -> None:
    """Run one ping, in event-time order, through a track's pipeline.

    Written for speed: every rule sits behind a guard that is false for an ordinary ping.
    """
    ts = p.ts
    lat = p.lat
    lng = p.lng
    last_ts = tr.last_ts
    speed = p.speed_kmh
    if speed is not None and not 0.0 <= speed <= ctx.max_reported_kmh:
        p = unreported_speed(p, ctx.max_reported_kmh)  # 6553.5 = "unknown" (issue 11 review)
        speed = None
    d2 = 0.0
    if last_ts >= 0:
        dy = (lat - tr.lat) * M_PER_DEG
        dx = (lng - tr.lng) * ctx.m_lng
        d2 = dx * dx + dy * dy
        if (d2 > ctx.jump_min2 or tr.jump is not None) and filter_impossible_jump(tr, p, ctx):
            # The rejection path only: the detail names the speed and distance (issue 11).
            dist = math.sqrt(d2)
            kmh = dist * 3600.0 / max(ts - last_ts, 1)
            jump = rejection(p, "filter_impossible_jump", ctx=ctx, speed_kmh=kmh, distance_m=dist)
            out.append(jump)
            return
        if speed is None:
            speed = math.sqrt(d2) * 3600.0 / (ts - last_ts)
    elif speed is None:
        speed = 0.0
    info = ctx.vehicles.get(vs.vehicle)
    if info is None:  # removed from the registry while it had pings buffered
        gone = "removed from the registry while its pings were buffered"
        out.append(rejection(p, "filter_unknown_vehicle", gone, ctx=ctx))
        return
    recent = tr.recent
    recent.append(p)
    if len(recent) > ctx.evidence_n:
        del recent[0]
    live = tr is vs.live
    if live:
        if vs.beat_uw and ts - vs.beat.ts > ctx.lost_ms and not p.backfill:
            signal.on_live_ping(ctx, vs, p, out)
        trip = vs.trip
        if trip is not None and ts >= trip.due:
            trips.check_deadline(ctx, vs, ts, out)
        rnd = vs.round
        if rnd is not None and ts >= rnd.due:
            rounds.check_deadline(ctx, vs, ts, out)
    mask = fs.mask
    ids = fs.ids
    if mask & CORRIDOR:  # visits only in the vehicle's own corridors (ctx.visible)
        ids = fs.visible.get(info.corridors)
        if ids is None:
            ids = ctx.visible(fs, info)
    if ids is not tr.ids or tr.exiting:
        places.update_visits(ctx, vs, tr, p, fs, ids, speed, late, out)
    if tr.dwelling:
        places.update_dwell(ctx, vs, tr, p, speed, fs, late, out)
    mask |= tr.vmask
    muck = info.muck
    if live:
        trip = vs.trip
        overdue = trip is not None and trip.overdue
    else:  # a backfilled ping: the trip as it was then, not the one open now
        trip = trips.trip_at(vs, ts)
        overdue = trip is not None and trips.overdue_at(ctx, trip, ts)
    reported = p.loaded
    if reported is not None:
        loaded = reported != "empty"
        if loaded and trip is None and muck and vs.past and vs.past[-1].stuck is not None:
            loaded = trips.sensor_says_loaded(vs.past[-1], reported)
    elif muck:  # no load sensor: loaded while on a trip, until a suspected dump (issue 11)
        loaded = trip is not None and not overdue and (trip.dumped < 0 or ts < trip.dumped)
    else:
        rnd = vs.round
        loaded = rnd is not None and not rnd.overdue and (live or rnd.start <= ts)
    # The per-ping rules get these facts as one object, built only when a rule's guard passes.
    facts = None
    st = tr.stop
    if st is not None:
        if speed >= ctx.moving_kmh:
            still = False
        elif st.n:  # kitchen/oil: a stop in one place, robust to jitter (issue 11)
            still = stops.in_one_place(ctx, st, lat, lng, info.stop_r2)
        else:
            dy = (lat - st.lat) * M_PER_DEG
            dx = (lng - st.lng) * ctx.m_lng
            still = dx * dx + dy * dy <= info.stop_r2
        if still:
            if ts - last_ts > ctx.lost_ms:  # across a signal gap: in a registered place? (dock)
                st.mask |= signal.gap_place(ctx, tr.lat, tr.lng, p, ts - last_ts)
            st.last = ts
            st.mask |= mask
            if loaded:
                st.loaded = True
            if (
                not st.flags
                and ts - st.ts >= info.stop_ms
                and not st.mask & info.stop_known
                and (st.loaded or not muck)
            ):
                facts = Facts(fs, speed, loaded, trip, overdue, late, info)
                stops.check(ctx, vs, tr, st, facts, out)
        else:
            stops.end_stop(ctx, vs, tr, st, ts, out)
            st = None
    if st is None and speed < ctx.slow_kmh:
        if muck:
            tr.stop = Stop(p.seq, ts, lat, lng, ts, mask, loaded)
        else:  # tracked: anchor and latest fixes start at this fix (stops.in_one_place)
            tr.stop = Stop(p.seq, ts, lat, lng, ts, mask, loaded, 0, 1, lat, lng, lat, lng)
    limit = fs.limit
    if speed > (info.limit if limit is None else limit) or tr.over is not None:
        facts = facts or Facts(fs, speed, loaded, trip, overdue, late, info)
        overspeed.check(ctx, vs, tr, p, facts, out)
    if p.cover_open or tr.unc is not None:
        facts = facts or Facts(fs, speed, loaded, trip, overdue, late, info)
        cover.check(ctx, vs, tr, p, facts, out)
    if muck:
        if p.lift:
            facts = facts or Facts(fs, speed, loaded, trip, overdue, late, info)
            dumping.check_lift(ctx, vs, tr, p, facts, out)
        if tr.dev is not None or (
            loaded and trip is not None and fs.route_ok.get(trip.permit) is not True
        ):
            facts = facts or Facts(fs, speed, loaded, trip, overdue, late, info)
            route.check(ctx, vs, tr, p, facts, out)
    if fs.restricted:
        facts = facts or Facts(fs, speed, loaded, trip, overdue, late, info)
        restricted.check_inside(ctx, vs, tr, p, facts, out)
    if 0 <= ts - last_ts <= ctx.crossing_gap_ms and last_ts >= 0 and ctx.restricted:
        # A segment this short crosses a zone only if it ends near one (context.CROSS_REACH_M).
        if d2 > ctx.reach2:
            facts = facts or Facts(fs, speed, loaded, trip, overdue, late, info)
            restricted.check_crossing(ctx, vs, tr, p, facts, out)
        else:
            box = ctx.near_box
            if (
                box[0] <= lat <= box[2]
                and box[1] <= lng <= box[3]
                and floor(lat * NEAR_INV) * NEAR_KEY + floor(lng * NEAR_INV) in ctx.near_cells
            ):  # ctx.near_key(lat, lng), inline
                facts = facts or Facts(fs, speed, loaded, trip, overdue, late, info)
                restricted.check_crossing(ctx, vs, tr, p, facts, out)
    tr.last_ts = ts
    tr.lat = lat
    tr.lng = lng
    tr.seq = p.seq
    tr.ids = ids
    if live and not p.backfill:
        vs.beat = p
        # Parked at a depot is not under way; a gap elsewhere is judged by rules/signal.py.
        vs.beat_uw = info.watch_lost and loaded and not mask & DEPOT
