"""``route_deviation`` (偏离核准路线): loaded and off the permit's approved route.

A ping breaks the rule when the vehicle is loaded on a trip whose permit names corridors, it is
inside none of them, inside no site, terminal or transfer point (those are excused), and farther
than ``deviation_m`` from every one of the permit's corridors. An episode longer than
``deviation_ms`` raises, dated at its first ping. Only the corridors present in the context are
judged (:func:`judged`): a permit none of whose corridors is present raises nothing.

Evidence (issue 11): the permit corridor the truck was nearest to when it left the route
(``corridor``) and how far off that corridor's edge it went, in metres (``peak_m``, and
``mean_m`` over the episode's pings), with the episode's ``duration_s``. Distances are measured
only on breaking pings, which are rare.
"""

from __future__ import annotations

from stream.engine.alerts import evidence_pings, make_alert
from stream.engine.context import SITE, UNLOAD, EngineContext
from stream.engine.facts import Facts
from stream.engine.rules.episode import Verdict, advance, span_s
from stream.engine.state import VehicleState
from stream.engine.track_state import Episode, Track
from stream.ping import Ping


def check(
    ctx: EngineContext, vs: VehicleState, tr: Track, p: Ping, facts: Facts, out: list
) -> None:
    """Apply one ping of a muck vehicle: its trip at the ping's event time, unless already
    overdue (its route is no longer checked then)."""
    fs = facts.fs
    loaded = facts.loaded
    trip = facts.trip if not facts.overdue else None
    permit = None
    corridors: tuple[str, ...] = ()
    if trip is not None and trip.permit is not None:
        permit = ctx.registry.permits.get(trip.permit)
        if permit is not None:
            corridors = judged(ctx, permit.corridors)
        if not corridors:
            fs.route_ok[trip.permit] = True  # nothing to deviate from
            permit = None
    breaking = False
    if loaded and permit is not None:
        ok = fs.route_ok.get(permit.id)
        if ok is None:
            ok = bool(fs.mask & (SITE | UNLOAD)) or any(c in fs.corridors for c in corridors)
            fs.route_ok[permit.id] = ok
        breaking = not ok and not ctx.near_corridor(corridors, p.lat, p.lng)
    if not breaking and tr.dev is None:
        return
    th = ctx.th
    ref, off = None, 0.0
    if breaking:
        ref, off = _off_route(ctx, corridors, tr.dev.ref if tr.dev else None, p)

    def build(ep: Episode) -> dict:
        return make_alert(
            ctx,
            vs,
            "route_deviation",
            (ep.seq, ep.ts, ep.lat, ep.lng),
            rule="loaded and farther than the tolerance from every corridor of the permit",
            thresholds={"deviation_m": th.deviation_m, "sustain_s": th.deviation_ms / 1000},
            pings=evidence_pings(tr.recent, ep.ts, th.evidence_pings),
            late=facts.late,
            fence=corridors[0],
            permit=permit.id,
            trip=trip.id,
            extra={"corridors": list(corridors), **describe(ep)},
        )

    verdict = Verdict("route_deviation", breaking, th.deviation_ms, True, build, off, describe, ref)
    tr.dev = advance(ctx, vs, tr, tr.dev, verdict, p, out)


def judged(ctx: EngineContext, corridors: tuple[str, ...]) -> tuple[str, ...]:
    """The permit's corridors the route is judged against: those present in ``ctx.fences``.

    A corridor missing from the context (a reference edit through the Kafka worker, which
    takes entries one at a time, can leave a permit naming a fence not there yet or no longer
    there) says nothing about where the truck may drive: judged against, it made every trip
    under the permit a ``route_deviation`` (issue 11 review). The registry check refuses such
    files at the edges; this is the engine's own defence. None present: no deviation.
    """
    fences = ctx.fences
    for c in corridors:  # all present, the common case: a plain loop (per loaded ping off-route)
        if c not in fences:
            return tuple(c for c in corridors if c in fences)
    return corridors


def describe(ep: Episode) -> dict:
    """The episode's evidence: the corridor, metres off its edge (peak, mean), duration."""
    return {
        "corridor": ep.ref,
        "peak_m": round(ep.peak, 1),
        "mean_m": round(ep.total / ep.n, 1) if ep.n else 0.0,
        "duration_s": span_s(ep),
    }


def _off_route(
    ctx: EngineContext, corridors: tuple[str, ...], ref: str | None, p: Ping
) -> tuple[str | None, float]:
    """Metres from ``p`` to the edge of corridor ``ref``; on an episode's first ping (``ref``
    None), of the nearest of ``corridors`` (ties: first by id), which the episode then keeps.
    Corridors missing from the fences are skipped."""
    nearby = ctx.nearby
    if ref is not None:
        return ref, nearby.distance(ref, p.lat, p.lng)
    best = None
    for cid in sorted(c for c in corridors if c in ctx.fences):
        d = nearby.distance(cid, p.lat, p.lng)
        if best is None or d < best[1]:
            best = (cid, d)
    return best if best is not None else (None, 0.0)
