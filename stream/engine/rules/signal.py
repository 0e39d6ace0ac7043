"""``signal_lost`` (离线 / 信号屏蔽): no live position for too long while a trip is under way.

"Under way" is judged at the last live ping before the gap: a loaded muck truck, or a kitchen/oil
vehicle with an open round (kinds in ``signal_lost_kinds``), not parked at a depot. The alert is
dated at that last ping; ``ended_ts`` is the first live ping after the gap, and the evidence
gives both pings, the gap in whole seconds and the distance between them (a truck that
reappears kilometres away).

Signal lost inside a registered place (a basement loading dock, a shed) when the vehicle is seen
again in that same place is not ``signal_lost`` (issue 11, docs/domain.md). A gap whose last fix is
in, or within ``dock_reach_m`` of, a registered place (``context.DOCK_KINDS``: a site, transfer
point, terminal, producer or plant; the ramp down to a mall's dock lies outside the producer's
small circle) is *held* and decided when the vehicle is seen again: nothing when the first fix
after it is within ``dock_reach_m`` of the same place and the gap is at most ``dock_wait_ms``,
else ``signal_lost``. A held gap never ended is raised once it is longer than ``dock_wait_ms``,
by a tick of the watermark (which stops at the last ping of the input: nothing is
extrapolated). Other gaps are raised either by a tick, when the watermark is more than
``signal_lost_ms`` past the last live ping (``ended_ts`` still null; emitted again when the
vehicle reappears), or by the ping that ends a longer gap.

Every decision depends only on the vehicle's own two fixes, the gap between them and the
reference data, so the alert (its id and its final record) is the same whether ticks driven by
other vehicles came during the gap or not. Backfilled pings never end a gap: they are not live.
"""

from __future__ import annotations

import math
from functools import reduce
from operator import or_

from stream.engine.alerts import make_alert, raise_alert
from stream.engine.context import M_PER_DEG, EngineContext
from stream.engine.events import Event, EventKind
from stream.engine.state import VehicleState
from stream.ping import Ping

KEY = "signal_lost"


def gap_place(ctx: EngineContext, lat: float, lng: float, p: Ping, gap_ms: int) -> int:
    """Kind bits of the registered places the vehicle was in during a gap of ``gap_ms`` from
    the fix at (lat, lng) to ``p``: those within ``dock_reach_m`` of both fixes, when the gap
    is at most ``dock_wait_ms``; 0 when none."""
    if gap_ms > ctx.th.dock_wait_ms:
        return 0
    before = ctx.places_near(lat, lng)
    if not before:
        return 0
    after = ctx.places_near(p.lat, p.lng)
    kind = ctx.kind_bit
    return reduce(or_, (kind[f] for f in before if f in after), 0)


def _build(ctx: EngineContext, vs: VehicleState, before: tuple, after: tuple | None) -> dict:
    th = ctx.th
    extra = {"gap_s": None, "gap_m": None}
    pings = [before]
    if after is not None:
        pings.append(after)
        dy = (after[2] - before[2]) * M_PER_DEG
        dx = (after[3] - before[3]) * M_PER_DEG * ctx.cos_lat
        extra = {"gap_s": (after[1] - before[1]) // 1000, "gap_m": round(math.hypot(dx, dy), 1)}
    # The registered places at the last fix: a gap there was held (up to dock_wait_ms).
    extra["near_places"] = list(ctx.places_near(before[2], before[3]))
    trip = vs.trip
    rnd = vs.round
    return make_alert(
        ctx,
        vs,
        "signal_lost",
        before,
        rule="no live position while a trip or round is under way",
        thresholds={
            "signal_lost_s": th.signal_lost_ms / 1000,
            "dock_reach_m": th.dock_reach_m,
            "dock_wait_s": th.dock_wait_ms // 1000,
        },
        pings=pings,
        late=False,
        ended_ts=after[1] if after else None,
        permit=trip.permit if trip else None,
        trip=trip.id if trip else (rnd.id if rnd else None),
        extra=extra,
    )


def on_live_ping(ctx: EngineContext, vs: VehicleState, p: Ping, out: list) -> None:
    """Called for each accepted live (not backfilled) ping before the vehicle's beat moves on."""
    beat = vs.beat
    if beat is None or p.ts - beat.ts <= ctx.th.signal_lost_ms or not vs.beat_uw:
        return
    before = (beat.seq, beat.ts, beat.lat, beat.lng)
    after = (p.seq, p.ts, p.lat, p.lng)
    opened = vs.open.pop(KEY, None)
    if opened is not None and vs.lost_anchor == beat.ts:
        alert = _build(ctx, vs, before, after)
        alert["permit"], alert["trip"] = opened["permit"], opened["trip"]  # as when raised
        opened.clear()
        opened.update(alert)
        out.append(Event(EventKind.ALERT, alert))
        return
    if vs.lost_anchor != beat.ts and gap_place(ctx, beat.lat, beat.lng, p, p.ts - beat.ts):
        return  # seen again in the registered place it went dark in (a dock, a shed)
    alert = _build(ctx, vs, before, after)
    raise_alert(vs, alert, beat.ts, ctx.th.cooldown_ms, out)
    vs.lost_anchor = beat.ts


def on_tick(ctx: EngineContext, vs: VehicleState, now: int, out: list) -> None:
    """Time-driven: the vehicle has been silent past the threshold while under way."""
    beat = vs.beat
    if beat is None or not vs.beat_uw or vs.pending or vs.lost_anchor == beat.ts:
        return
    gap = now - beat.ts
    if gap <= ctx.th.signal_lost_ms:
        return
    if gap <= ctx.th.dock_wait_ms and ctx.places_near(beat.lat, beat.lng):
        return  # held: decided when the vehicle is seen again (or past dock_wait_ms)
    vs.lost_anchor = beat.ts
    alert = _build(ctx, vs, (beat.seq, beat.ts, beat.lat, beat.lng), None)
    if raise_alert(vs, alert, beat.ts, ctx.th.cooldown_ms, out):
        vs.open[KEY] = alert
