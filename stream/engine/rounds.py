"""Kitchen-waste and waste-oil rounds: collections at producers → delivery at a plant.

A collection dwell at a producer opens a round (or joins the open one); a delivery dwell at a
plant closes it. No delivery within ``round_deadline_ms`` of the first collection raises
``undelivered_collection``; the round stays open (overdue) so a late delivery still closes it,
and is dropped after ``trip_expiry_ms``.

A delivery with no collection since the vehicle's last delivery (none at a producer, and no stop
that raised ``unregistered_collection``, whose load is already flagged) is a round record with
status ``no_collection`` and raises ``unsourced_delivery`` (来源不明, issue 11), unless the
vehicle reported itself empty all through the visit (parked at the plant). As with
``unmatched_disposal`` on the muck side (``stream.engine.trips``), the engine knows only what it
has seen: the first delivery of a vehicle whose history starts with it (no collection earlier
in the input) is unsourced. A collection at a producer on another company's contract still
joins the round and raises ``unregistered_collection`` (poaching, ``rules.kitchen.poaching``).
"""

from __future__ import annotations

from stream.engine import trips
from stream.engine.alerts import record_id
from stream.engine.context import PLANT, EngineContext
from stream.engine.events import Event, EventKind
from stream.engine.rules import kitchen
from stream.engine.state import Round, VehicleState
from stream.engine.track_state import Visit
from stream.eventtime import iso_ts


def round_record(vs: VehicleState, rnd: Round, kind: str) -> Event:
    """The round as an output record (``trips.jsonl``)."""
    return Event(
        EventKind.TRIP,
        {
            "id": rnd.id,
            "vehicle": vs.vehicle,
            "kind": kind,
            "start_ts": iso_ts(rnd.start),
            "lat": rnd.lat,
            "lng": rnd.lng,
            "producers": list(rnd.producers),
            "plant": rnd.plant,
            "delivered_ts": iso_ts(rnd.delivered) if rnd.delivered >= 0 else None,
            "status": rnd.status,
            "overdue": rnd.overdue,
            "late": rnd.late,
        },
    )


def on_collect(
    ctx: EngineContext, vs: VehicleState, producer: str, v: Visit, late: bool, out: list
) -> None:
    """A collection dwell at ``producer`` completed."""
    rnd = vs.round
    if rnd is None:
        rnd = Round(record_id("round", vs.vehicle, v.slow), v.slow, v.seq, v.lat, v.lng, late=late)
        rnd.due = rnd.start + ctx.th.round_deadline_ms
        vs.round = rnd
    if producer not in rnd.producers:
        rnd.producers.append(producer)
    rnd.collections.append([producer, v.slow])
    vs.last_collect = max(vs.last_collect, v.slow)
    kitchen.poaching(ctx, vs, producer, v, late, out)
    out.append(round_record(vs, rnd, ctx.vehicles[vs.vehicle].kind))


def on_deliver(
    ctx: EngineContext, vs: VehicleState, plant: str, v: Visit, late: bool, out: list
) -> None:
    """A delivery dwell at ``plant`` completed."""
    kind = ctx.vehicles[vs.vehicle].kind
    rnd = vs.round
    previous = vs.last_deliver
    vs.last_deliver = max(previous, v.slow)
    if rnd is None:
        if vs.last_collect <= previous and v.loaded:
            kitchen.unsourced_delivery(ctx, vs, plant, v, previous, late, out)
        lone = Round(
            record_id("round", vs.vehicle, v.slow),
            v.slow,
            v.seq,
            v.lat,
            v.lng,
            plant=plant,
            delivered=v.slow,
            status="no_collection",
            late=late,
        )
        out.append(round_record(vs, lone, kind))
        return
    rnd.plant = plant
    rnd.delivered = v.slow
    rnd.status = "delivered"
    rnd.late = rnd.late or late
    out.append(round_record(vs, rnd, kind))
    vs.round = None


def check_deadline(ctx: EngineContext, vs: VehicleState, now: int, out: list) -> None:
    """Time-driven: raise ``undelivered_collection`` for a round past its deadline."""
    rnd = vs.round
    if rnd is None:
        return
    th = ctx.th
    kind = ctx.vehicles[vs.vehicle].kind
    if now >= rnd.start + th.trip_expiry_ms:
        if not rnd.overdue:
            kitchen.undelivered_collection(ctx, vs, rnd, out)
        rnd.overdue = True  # as when a tick saw the deadline pass first (issue 11)
        rnd.status = "undelivered"
        out.append(round_record(vs, rnd, kind))
        vs.round = None
        return
    deadline = rnd.start + th.round_deadline_ms
    if rnd.overdue or now < deadline or trips.dwell_under_way(ctx, vs, PLANT, deadline):
        return
    kitchen.undelivered_collection(ctx, vs, rnd, out)
    rnd.overdue = True
    rnd.due = rnd.start + th.trip_expiry_ms
    out.append(round_record(vs, rnd, kind))
