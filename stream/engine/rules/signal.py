"""``signal_lost`` (离线 / 信号屏蔽): no live position for too long while a trip is under way.

"Under way" is judged at the last live ping before the gap: a loaded muck truck outside its
loading site, or a kitchen/oil vehicle with an open round (kinds in ``signal_lost_kinds``). The
alert is dated at that last ping; ``ended_ts`` is the first live ping after the gap, and the
evidence gives both pings, the gap and the distance between them (a truck that reappears
kilometres away).

It is raised either by a tick, when the watermark is more than ``signal_lost_ms`` past the last
live ping (``ended_ts`` still null; emitted again when the vehicle reappears), or by the ping that
ends a longer gap. Both paths build the alert from the same two pings, so the final record is the
same. Backfilled pings never end a gap: they are not live.
"""

from __future__ import annotations

import math

from stream.engine.alerts import make_alert, raise_alert
from stream.engine.context import M_PER_DEG, EngineContext
from stream.engine.events import Event, EventKind
from stream.engine.state import VehicleState
from stream.ping import Ping

KEY = "signal_lost"


def _build(ctx: EngineContext, vs: VehicleState, before: tuple, after: tuple | None) -> dict:
    th = ctx.th
    extra = {"gap_s": None, "gap_m": None}
    pings = [before]
    if after is not None:
        pings.append(after)
        dy = (after[2] - before[2]) * M_PER_DEG
        dx = (after[3] - before[3]) * M_PER_DEG * ctx.cos_lat
        extra = {"gap_s": (after[1] - before[1]) / 1000, "gap_m": round(math.hypot(dx, dy), 1)}
    trip = vs.trip
    rnd = vs.round
    return make_alert(
        ctx,
        vs,
        "signal_lost",
        before,
        rule="no live position while a trip or round is under way",
        thresholds={"signal_lost_s": th.signal_lost_ms / 1000},
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
    alert = _build(ctx, vs, before, after)
    raise_alert(vs, alert, beat.ts, ctx.th.cooldown_ms, out)
    vs.lost_anchor = beat.ts


def on_tick(ctx: EngineContext, vs: VehicleState, now: int, out: list) -> None:
    """Time-driven: the vehicle has been silent past the threshold while under way."""
    beat = vs.beat
    if beat is None or not vs.beat_uw or vs.pending or vs.lost_anchor == beat.ts:
        return
    if now - beat.ts <= ctx.th.signal_lost_ms:
        return
    vs.lost_anchor = beat.ts
    alert = _build(ctx, vs, (beat.seq, beat.ts, beat.lat, beat.lng), None)
    if raise_alert(vs, alert, beat.ts, ctx.th.cooldown_ms, out):
        vs.open[KEY] = alert
