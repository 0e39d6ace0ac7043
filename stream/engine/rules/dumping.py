"""``suspected_dumping`` (异常停留 / 疑似偷倒) of muck trucks.

Two triggers:

- a loaded stop of at least ``suspicious_stop_ms`` that touched no known place (site, transfer
  point, terminal, depot, producer, plant) on any of its pings — dated at the start of the stop,
  ended when the stop ends — unless it is a queue at a terminal's gate: within
  ``queue_reach_m`` of a terminal or transfer point the trip may unload at (issue 11);
- a tipper lift (``lift: true``) outside every terminal and transfer point (visits with a pending
  exit count as inside, so jitter at a terminal gate does not fire it) — dated at the lift ping.
  Not a dump (issue 11, docs/domain.md): the tipper raised within ``gate_drift_m`` of a terminal or
  transfer point's boundary (that is an unload: ``places.unload_at_gate``), or inside the
  truck's own site (its trip's, or one on its permits: tipping back an overload).

Both share the type's cooldown: a lift during a suspicious stop gives one alert. Once the rule
fires, a truck without a load sensor counts as empty for the rest of that trip
(``Trip.dumped``): the dump is where its load went.
"""

from __future__ import annotations

from stream.engine import places
from stream.engine.alerts import evidence_pings, make_alert, raise_alert
from stream.engine.context import KNOWN, SITE, UNLOAD, EngineContext, FenceSet
from stream.engine.facts import Facts
from stream.engine.state import Trip, VehicleState
from stream.engine.track_state import Stop, Track
from stream.ping import Ping

FLAG = 1  # Stop.flags bit: this rule has fired for the stop
QUEUED = 4  # Stop.flags bit: judged a queue at a terminal's gate (issue 11)
KEY = "stop:suspected_dumping"


def check_stop(
    ctx: EngineContext, vs: VehicleState, tr: Track, st: Stop, facts: Facts, out: list
) -> None:
    """Called on each ping of a stop once it is long enough to matter (``facts.trip``: the
    trip at the ping's event time)."""
    th = ctx.th
    trip = facts.trip
    if st.flags & (FLAG | QUEUED) or not st.loaded or st.mask & KNOWN:
        return
    if st.last - st.ts < th.suspicious_stop_ms:
        return
    if _queueing(ctx, st, trip):
        st.flags |= QUEUED
        return
    st.flags |= FLAG
    alert = make_alert(
        ctx,
        vs,
        "suspected_dumping",
        (st.seq, st.ts, st.lat, st.lng),
        rule="loaded stop outside every known place",
        thresholds={
            "stop_s": th.suspicious_stop_ms / 1000,
            "stop_radius_m": th.stop_radius_m,
            "slow_kmh": th.slow_kmh,
            "queue_reach_m": th.queue_reach_m,
        },
        pings=evidence_pings(tr.recent, st.ts, th.evidence_pings),
        late=facts.late,
        permit=trip.permit if trip else None,
        trip=trip.id if trip else None,
        extra=_evidence(ctx, "stop", (st.last - st.ts) // 1000, tr.recent[-1], st.lat, st.lng),
    )
    _dumped(trip, st.ts)
    if raise_alert(vs, alert, st.ts, th.cooldown_ms, out):
        vs.open[KEY + tr.tag] = alert


def check_lift(
    ctx: EngineContext, vs: VehicleState, tr: Track, p: Ping, facts: Facts, out: list
) -> None:
    """Called for pings reporting the tipper raised (``facts.trip``: the trip at the ping's
    time)."""
    fs = facts.fs
    mask = fs.mask | tr.vmask
    if mask & UNLOAD:
        return
    th = ctx.th
    trip = facts.trip
    gate = ctx.nearby.unload_within(p.lat, p.lng, th.gate_drift_m)
    if gate:  # GPS drift at a gate: the tipper raised there is an unload
        places.unload_at_gate(ctx, vs, tr, p, gate[0], fs, facts.late, out)
        return
    if mask & SITE and _own_site(ctx, vs, tr, fs, trip):
        return
    anchor = (p.seq, p.ts, p.lat, p.lng)
    alert = make_alert(
        ctx,
        vs,
        "suspected_dumping",
        anchor,
        rule="tipper raised outside every terminal and transfer point",
        thresholds={"exit_hold_s": th.exit_hold_ms / 1000, "gate_drift_m": th.gate_drift_m},
        pings=evidence_pings(tr.recent, p.ts - th.suspicious_stop_ms, th.evidence_pings),
        late=facts.late,
        permit=trip.permit if trip else None,
        trip=trip.id if trip else None,
        extra=_evidence(ctx, "lift", 0, p, p.lat, p.lng),
    )
    _dumped(trip, p.ts)
    raise_alert(vs, alert, p.ts, th.cooldown_ms, out)


def _evidence(
    ctx: EngineContext, trigger: str, duration_s: int, p: Ping, lat: float, lng: float
) -> dict:
    """What an officer needs at the spot (issue 11): how long, tipper and sensor states (of
    the ping that raised it), and the nearest known place with its distance."""
    return {
        "trigger": trigger,
        "duration_s": duration_s,
        "lift": bool(p.lift),
        "loaded": p.loaded,
        "nearest_place": ctx.nearby.nearest_place(lat, lng),
    }


def _dumped(trip: Trip | None, ts: int) -> None:
    """The trip's load is judged dumped from ``ts`` (for a truck without a load sensor)."""
    if trip is not None and (trip.dumped < 0 or ts < trip.dumped):
        trip.dumped = ts


def _queueing(ctx: EngineContext, st: Stop, trip: Trip | None) -> bool:
    """A loaded stop within ``queue_reach_m`` of a terminal or transfer point the trip may
    unload at (any, when it has no permit): queueing at its gate (issue 11). Another place's
    gate is no excuse: the truck has no business queueing there."""
    near = ctx.nearby.unload_within(st.lat, st.lng, ctx.th.queue_reach_m)
    if not near:
        return False
    permit = ctx.registry.permits.get(trip.permit) if trip is not None and trip.permit else None
    return permit is None or any(f in permit.terminals for f in near)


def _own_site(
    ctx: EngineContext, vs: VehicleState, tr: Track, fs: FenceSet, trip: Trip | None
) -> bool:
    """The lift is inside the truck's own site: its trip's, or one on its permits."""
    own = {p.site for p in ctx.registry.permits_of(vs.vehicle)}
    if trip is not None:
        own.add(trip.site)
    kind_bit = ctx.kind_bit
    return any(f in own and kind_bit.get(f, 0) & SITE for f in (*fs.ids, *tr.visits))
