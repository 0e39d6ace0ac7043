"""``suspected_dumping`` (异常停留 / 疑似偷倒) of muck trucks.

Two triggers:

- a loaded stop of at least ``suspicious_stop_ms`` that touched no known place (site, transfer
  point, terminal, depot, producer, plant) on any of its pings — dated at the start of the stop,
  ended when the stop ends;
- a tipper lift (``lift: true``) outside every terminal and transfer point (visits with a pending
  exit count as inside, so jitter at a terminal gate does not fire it) — dated at the lift ping.

Both share the type's cooldown: a lift during a suspicious stop gives one alert.
"""

from __future__ import annotations

from stream.engine.alerts import evidence_pings, make_alert, raise_alert
from stream.engine.context import KNOWN, UNLOAD, EngineContext
from stream.engine.facts import Facts
from stream.engine.state import Stop, Track, VehicleState
from stream.ping import Ping

FLAG = 1  # Stop.flags bit: this rule has fired for the stop
KEY = "stop:suspected_dumping"


def check_stop(
    ctx: EngineContext, vs: VehicleState, tr: Track, st: Stop, facts: Facts, out: list
) -> None:
    """Called on each ping of a stop once it is long enough to matter (``facts.trip``: the
    trip at the ping's event time)."""
    th = ctx.th
    trip = facts.trip
    if st.flags & FLAG or not st.loaded or st.mask & KNOWN:
        return
    if st.last - st.ts < th.suspicious_stop_ms:
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
        },
        pings=evidence_pings(tr.recent, st.ts, th.evidence_pings),
        late=facts.late,
        permit=trip.permit if trip else None,
        trip=trip.id if trip else None,
        extra={"trigger": "stop"},
    )
    if raise_alert(vs, alert, st.ts, th.cooldown_ms, out):
        vs.open[KEY + tr.tag] = alert


def check_lift(
    ctx: EngineContext, vs: VehicleState, tr: Track, p: Ping, facts: Facts, out: list
) -> None:
    """Called for pings reporting the tipper raised (``facts.trip``: the trip at the ping's
    time)."""
    if (facts.fs.mask | tr.vmask) & UNLOAD:
        return
    th = ctx.th
    trip = facts.trip
    anchor = (p.seq, p.ts, p.lat, p.lng)
    alert = make_alert(
        ctx,
        vs,
        "suspected_dumping",
        anchor,
        rule="tipper raised outside every terminal and transfer point",
        thresholds={"exit_hold_s": th.exit_hold_ms / 1000},
        pings=evidence_pings(tr.recent, p.ts - th.suspicious_stop_ms, th.evidence_pings),
        late=facts.late,
        permit=trip.permit if trip else None,
        trip=trip.id if trip else None,
        extra={"trigger": "lift"},
    )
    raise_alert(vs, alert, p.ts, th.cooldown_ms, out)
