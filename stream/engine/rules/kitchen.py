"""Kitchen-waste and waste-oil chain alerts (收运不匹配 / 非法收运).

- ``unregistered_collection``: a kitchen/oil vehicle stops for ``unregistered_stop_ms`` and the
  stop touched no producer, plant or depot — dated at the start of the stop, ended with it.
- ``undelivered_collection``: a round (collections at producers) not delivered to a plant within
  ``round_deadline_ms`` of its first collection — dated at the start of that collection.
"""

from __future__ import annotations

from stream.engine.alerts import evidence_pings, make_alert, raise_alert
from stream.engine.context import KITCHEN_KNOWN, EngineContext
from stream.engine.facts import Facts
from stream.engine.state import Round, Stop, Track, VehicleState
from stream.ping import iso_ts

FLAG = 2  # Stop.flags bit
KEY = "stop:unregistered_collection"


def check_stop(
    ctx: EngineContext, vs: VehicleState, tr: Track, st: Stop, facts: Facts, out: list
) -> None:
    """Called on each ping of a kitchen/oil vehicle's stop once it is long enough to matter."""
    th = ctx.th
    if st.flags & FLAG or st.mask & KITCHEN_KNOWN or st.last - st.ts < th.unregistered_stop_ms:
        return
    st.flags |= FLAG
    contracts = ctx.registry.contracts_of(vs.vehicle)
    alert = make_alert(
        ctx,
        vs,
        "unregistered_collection",
        (st.seq, st.ts, st.lat, st.lng),
        rule="stop outside every registered producer, plant and depot",
        thresholds={
            "stop_s": th.unregistered_stop_ms / 1000,
            "stop_radius_m": th.stop_radius_m,
            "slow_kmh": th.slow_kmh,
        },
        pings=evidence_pings(tr.recent, st.ts, th.evidence_pings),
        late=facts.late,
        extra={"contracts": [c.id for c in contracts]},
    )
    if raise_alert(vs, alert, st.ts, th.cooldown_ms, out):
        vs.open[KEY + tr.tag] = alert


def undelivered_collection(ctx: EngineContext, vs: VehicleState, rnd: Round, out: list) -> None:
    """The round missed its delivery deadline."""
    th = ctx.th
    anchor = (rnd.seq, rnd.start, rnd.lat, rnd.lng)
    alert = make_alert(
        ctx,
        vs,
        "undelivered_collection",
        anchor,
        rule="collections not delivered to a plant within the round deadline",
        thresholds={
            "round_deadline_s": th.round_deadline_ms // 1000,
            "dwell_s": th.dwell_ms // 1000,
        },
        pings=[anchor],
        late=rnd.late,
        fence=rnd.producers[0] if rnd.producers else None,
        trip=rnd.id,
        extra={
            "producers": list(rnd.producers),
            "deadline": iso_ts(rnd.start + th.round_deadline_ms),
        },
    )
    raise_alert(vs, alert, rnd.start, th.cooldown_ms, out)
