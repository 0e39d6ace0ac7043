"""Kitchen-waste and waste-oil chain alerts (收运不匹配 / 非法收运 / 来源不明).

- ``unregistered_collection``: a kitchen/oil vehicle stops for ``unregistered_stop_ms`` in one
  place (``stream.engine.stops.in_one_place``: within ``collection_radius_m`` of the average of
  the stop's first fixes, with no steady progress beyond ``collection_drift_m``; creeping in a
  jam is not a stop, issue 11) and the stop touched no producer, plant or depot — dated at the
  start of the stop, ended with it. Also a collection (a completed dwell) at a producer that
  only contracts of other companies name (poaching, 抢收, issue 11) — dated at the start of the
  dwell, ended at the confirmed exit, its evidence naming that contract (the first by id). A
  producer on the contract of another vehicle of the vehicle's own company is fine, and so is a
  producer on no contract at all: it is a registered producer (a fence), as before issue 11.
- ``undelivered_collection``: a round (collections at producers) not delivered to a plant within
  ``round_deadline_ms`` of its first collection — dated at the start of that collection.
- ``unsourced_delivery``: a delivery with no collection since the vehicle's last delivery
  (``stream.engine.rounds`` decides) — dated at the start of the delivery dwell, ended at the
  confirmed exit from the plant.
"""

from __future__ import annotations

from stream.engine.alerts import evidence_pings, make_alert, raise_alert, update_alert
from stream.engine.context import KITCHEN_KNOWN, EngineContext
from stream.engine.facts import Facts
from stream.engine.state import Round, VehicleState
from stream.engine.track_state import Stop, Track, Visit
from stream.eventtime import iso_ts
from stream.registry_entries import Contract

FLAG = 2  # Stop.flags bit
KEY = "stop:unregistered_collection"
# vs.open keys of alerts about a visit, + fence id + track tag: ended by visit_ended
VISIT_KEYS = ("visit:unregistered_collection:", "visit:unsourced_delivery:")


def check_stop(
    ctx: EngineContext, vs: VehicleState, tr: Track, st: Stop, facts: Facts, out: list
) -> None:
    """Called on each ping of a kitchen/oil vehicle's stop once it is long enough to matter."""
    th = ctx.th
    if st.flags & FLAG or st.mask & KITCHEN_KNOWN or st.last - st.ts < th.unregistered_stop_ms:
        return
    st.flags |= FLAG
    # What the vehicle delivers next has a source, already flagged here: not unsourced.
    vs.last_collect = max(vs.last_collect, st.ts)
    contracts = ctx.registry.contracts_of(vs.vehicle)
    alert = make_alert(
        ctx,
        vs,
        "unregistered_collection",
        (st.seq, st.ts, st.lat, st.lng),
        rule="stop in one place outside every registered producer, plant and depot",
        thresholds={
            "stop_s": th.unregistered_stop_ms / 1000,
            "collection_radius_m": th.collection_radius_m,
            "collection_drift_m": th.collection_drift_m,
            "slow_kmh": th.slow_kmh,
        },
        pings=evidence_pings(tr.recent, st.ts, th.evidence_pings),
        late=facts.late,
        # duration_s: how long stopped so far; final when the stop ends (stops.end_stop)
        extra={"contracts": [c.id for c in contracts], "duration_s": (st.last - st.ts) // 1000},
    )
    if raise_alert(vs, alert, st.ts, th.cooldown_ms, out):
        vs.open[KEY + tr.tag] = alert


def poacher_of(ctx: EngineContext, vehicle: str, producer: str) -> tuple[Contract, str] | None:
    """The contract (and its vehicle's company) another company holds ``producer`` under,
    when no contract of ``vehicle`` or of its company names it; else None."""
    holders = ctx.contracts_at.get(producer)
    if not holders:
        return None  # on no contract: a registered producer all the same
    vehicles = ctx.registry.vehicles
    company = vehicles[vehicle].company
    other = None
    for contract in holders:
        holder = vehicles.get(contract.vehicle)
        their = holder.company if holder is not None else ""
        if contract.vehicle == vehicle or (company and their == company):
            return None  # its own, or its company's
        if other is None:
            other = (contract, their)
    return other


def poaching(
    ctx: EngineContext, vs: VehicleState, producer: str, v: Visit, late: bool, out: list
) -> None:
    """A collection dwell at ``producer`` completed: raise if only other companies hold it."""
    found = poacher_of(ctx, vs.vehicle, producer)
    if found is None:
        return
    contract, company = found
    th = ctx.th
    anchor = (v.seq, v.slow, v.lat, v.lng)
    alert = make_alert(
        ctx,
        vs,
        "unregistered_collection",
        anchor,
        rule="collection at a producer on another company's contract (poaching)",
        thresholds={"dwell_s": th.dwell_ms // 1000, "slow_kmh": th.slow_kmh},
        pings=[anchor],
        late=late,
        fence=producer,
        trip=vs.round.id if vs.round is not None else None,
        extra={
            "contract": {"id": contract.id, "vehicle": contract.vehicle, "company": company},
            "duration_s": None,  # known when the exit is confirmed (visit_ended)
        },
    )
    _raise_visit(ctx, vs, alert, producer, v, out)


def unsourced_delivery(
    ctx: EngineContext,
    vs: VehicleState,
    plant: str,
    v: Visit,
    previous: int,
    late: bool,
    out: list,
) -> None:
    """A delivery dwell at ``plant`` with no collection since the delivery that started at
    ``previous`` (-1: none seen)."""
    th = ctx.th
    anchor = (v.seq, v.slow, v.lat, v.lng)
    alert = make_alert(
        ctx,
        vs,
        "unsourced_delivery",
        anchor,
        rule="delivery at a plant with no recorded collection since the last delivery",
        thresholds={"dwell_s": th.dwell_ms // 1000, "slow_kmh": th.slow_kmh},
        pings=[anchor],
        late=late,
        fence=plant,
        extra={
            "last_delivery": iso_ts(previous) if previous >= 0 else None,
            "duration_s": None,  # known when the exit is confirmed (visit_ended)
        },
    )
    _raise_visit(ctx, vs, alert, plant, v, out)


def _raise_visit(
    ctx: EngineContext, vs: VehicleState, alert: dict, fence: str, v: Visit, out: list
) -> None:
    """Raise an alert about a visit, kept open until the exit from ``fence`` is confirmed."""
    if raise_alert(vs, alert, v.slow, ctx.th.cooldown_ms, out):
        tag = "" if vs.live.visits.get(fence) is v else ":shadow"
        vs.open["visit:" + alert["type"] + ":" + fence + tag] = alert


def visit_ended(vs: VehicleState, tr: Track, fence: str, v: Visit, out: list) -> None:
    """The exit from ``fence`` was confirmed: end the visit's open alerts, with the duration
    from the start of the dwell to the first ping outside."""
    for prefix in VISIT_KEYS:
        alert = vs.open.pop(prefix + fence + tr.tag, None)
        if alert is not None:
            alert["evidence"]["duration_s"] = max(0, v.out - v.slow) // 1000
            update_alert(alert, out, ended_ts=iso_ts(v.out))


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
            "collections": [{"fence": f, "ts": iso_ts(ts)} for f, ts in rnd.collections],
            "deadline": iso_ts(rnd.start + th.round_deadline_ms),
        },
    )
    raise_alert(vs, alert, rnd.start, th.cooldown_ms, out)
