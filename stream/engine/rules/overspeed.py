"""``overspeed`` (超速): over the limit, sustained.

The limit is the lowest ``speed_limit_kmh`` of the fences covering the ping, else the default
of the vehicle kind (muck 60, kitchen/oil 70 km/h). Over means strictly above it, on every ping
of an episode lasting at least ``overspeed_ms``. Speed is the reported ``speed_kmh``, or the
speed implied by the last accepted ping when the terminal does not report one.
"""

from __future__ import annotations

from stream.engine.alerts import evidence_pings, make_alert
from stream.engine.context import EngineContext, FenceSet
from stream.engine.facts import Facts
from stream.engine.rules.episode import Verdict, advance, span_s
from stream.engine.state import VehicleState
from stream.engine.track_state import Episode, Track
from stream.ping import Ping


def check(
    ctx: EngineContext, vs: VehicleState, tr: Track, p: Ping, facts: Facts, out: list
) -> None:
    """Apply one ping (call only when over the limit or an episode is open); the alert names
    the vehicle's trip at the ping's event time and its permit (issue 11)."""
    fs = facts.fs
    speed = facts.speed
    limit = fs.limit if fs.limit is not None else facts.info.limit
    breaking = speed > limit
    if not breaking and tr.over is None:
        return

    def build(ep: Episode) -> dict:
        th = ctx.th
        return make_alert(
            ctx,
            vs,
            "overspeed",
            (ep.seq, ep.ts, ep.lat, ep.lng),
            rule="speed above the limit on every ping for the sustain time",
            thresholds={"limit_kmh": limit, "sustain_s": th.overspeed_ms / 1000},
            pings=evidence_pings(tr.recent, ep.ts, th.evidence_pings),
            late=facts.late,
            fence=_limiting_fence(ctx, fs, limit),
            permit=trip.permit if trip else None,
            trip=trip.id if trip else None,
            extra={"limit_kmh": limit, **describe(ep)},
        )

    trip = facts.trip
    verdict = Verdict("overspeed", breaking, ctx.th.overspeed_ms, False, build, speed, describe)
    tr.over = advance(ctx, vs, tr, tr.over, verdict, p, out)


def describe(ep: Episode) -> dict:
    """Peak speed and duration (``speed_kmh`` = the peak, kept for older consumers)."""
    return {"peak_kmh": ep.peak, "duration_s": span_s(ep), "speed_kmh": ep.peak}


def _limiting_fence(ctx: EngineContext, fs: FenceSet, limit: float) -> str | None:
    """The fence that set the limit, if one did (first by id)."""
    if fs.limit is None:
        return None
    for fid in fs.ids:
        if ctx.fences[fid].speed_limit_kmh == limit:
            return fid
    return None
