"""Muck trips (one load = one electronic manifest, 电子联单): load at a site → unload at a terminal.

- A load dwell at a site opens a trip under the first permit (by id) valid for the vehicle, the
  site and the date at the start of the dwell (preferring one whose hours contain it); with no
  such permit the load raises ``unpermitted_load`` and the trip is tracked without a permit.
- The trip departs when the site exit is confirmed (dated at the first ping outside). Permit
  hours are the windows in which loads may leave: a departure outside the hours of every
  permit valid at the load raises ``unpermitted_load`` then (anchored at the load). A load
  seen only in a blind-area batch, whose departure may never be confirmed, is judged by the
  hours at the start of its dwell.
- An unload dwell at a terminal or transfer point closes it: ``delivered``, or ``unapproved``
  (raising ``unapproved_terminal``) when none of the covering unload fences is on the permit.
  An unload dwell with no trip open raises ``unmatched_disposal``, unless the vehicle reported
  itself empty all through the visit (a truck parked at a terminal unloads nothing).
- No unload within ``trip_deadline_ms`` of departure raises ``unmatched_source`` (dated at the
  departure); the trip stays open, *overdue*, so a late unload still closes it, and is dropped
  after ``trip_expiry_ms``. A new load after a departure with no unload in between closes the
  previous trip as unmatched at once.
"""

from __future__ import annotations

from stream.engine.alerts import record_id
from stream.engine.context import UNLOAD, EngineContext, FenceSet
from stream.engine.events import Event, EventKind
from stream.engine.rules import manifest
from stream.engine.state import Trip, VehicleState
from stream.engine.track_state import PENDING, Visit
from stream.eventtime import iso_ts

_PAST_KEEP = 8  # closed trips kept per vehicle (blind-area batches come hours late, not days)


def trip_record(vs: VehicleState, trip: Trip) -> Event:
    """The trip as an output record (``trips.jsonl``)."""
    return Event(
        EventKind.TRIP,
        {
            "id": trip.id,
            "vehicle": vs.vehicle,
            "kind": "muck",
            "site": trip.site,
            "permit": trip.permit,
            "load_ts": iso_ts(trip.load_ts),
            "load_lat": trip.lat,
            "load_lng": trip.lng,
            "departed_ts": iso_ts(trip.departed) if trip.departed >= 0 else None,
            "unload_fence": trip.unload_fence,
            "unload_ts": iso_ts(trip.unload_ts) if trip.unload_ts >= 0 else None,
            "status": trip.status,
            "overdue": trip.overdue,
            "late": trip.late,
        },
    )


def on_load(
    ctx: EngineContext, vs: VehicleState, site: str, v: Visit, late: bool, out: list
) -> None:
    """A load dwell at ``site`` completed (``v`` is the visit record)."""
    start = v.slow
    trip = vs.trip
    if trip is not None:
        if trip.departed < 0:
            return  # still at the site it loaded at: the same load
        if not trip.overdue:
            manifest.unmatched_source(ctx, vs, trip, out)
        trip.status = "unmatched"
        out.append(trip_record(vs, trip))
        close(vs, trip, start)
    # Hours are the windows in which loads may leave (docs/formats.md): a truck queuing at the
    # site before its window opens is judged when it leaves (on_exit).
    registry = ctx.registry
    permit = registry.permit_for(vs.vehicle, site, start)
    if permit is None and not late:
        permit = registry.permit_for(vs.vehicle, site, start, any_hour=True)
    trip = Trip(
        record_id("trip", vs.vehicle, start),
        site,
        permit.id if permit else None,
        start,
        v.seq,
        v.lat,
        v.lng,
        late=late,
    )
    if permit is None:
        manifest.unpermitted_load(ctx, vs, site, trip, late, out)
    vs.trip = trip
    out.append(trip_record(vs, trip))


def on_exit(
    ctx: EngineContext, vs: VehicleState, fid: str, ts: int, seq, lat: float, lng: float, out: list
) -> None:
    """A fence exit was confirmed: a loaded trip leaving its site departs."""
    trip = vs.trip
    if trip is not None and trip.departed < 0 and trip.site == fid and ts > trip.load_ts:
        trip.departed, trip.dep_seq, trip.dep_lat, trip.dep_lng = ts, seq, lat, lng
        trip.due = ts + ctx.th.trip_deadline_ms
        _check_hours(ctx, vs, trip, out)
        out.append(trip_record(vs, trip))


def _check_hours(ctx: EngineContext, vs: VehicleState, trip: Trip, out: list) -> None:
    """The load left its site: within the hours of its permit, or of another permit of the
    site valid at the load; else ``unpermitted_load`` (anchored at the load, as any other) and
    the trip goes on without a permit."""
    permit = ctx.registry.permits.get(trip.permit) if trip.permit else None
    if permit is None or trip.late or permit.in_hours(trip.departed):
        return  # no permit (already raised), a blind-area load (judged at the load), or fine
    for other in ctx.registry.permits_of(vs.vehicle):
        if other.allows(vs.vehicle, trip.site, trip.load_ts, any_hour=True) and other.in_hours(
            trip.departed
        ):
            trip.permit = other.id
            return
    manifest.unpermitted_load(ctx, vs, trip.site, trip, trip.late, out, departed=trip.departed)
    trip.permit = None


def on_unload(
    ctx: EngineContext, vs: VehicleState, fence: str, v: Visit, fs: FenceSet, late: bool, out: list
) -> None:
    """An unload dwell at terminal/transfer ``fence`` completed.

    A backfilled one is matched with the trip under way when it happened (:func:`trip_at`),
    not the one open now: a blind-area batch that arrives after the next load delivers the
    earlier trip, and a trip loaded after the unload cannot be delivered by it.
    """
    trip = vs.trip
    if late and (trip is None or trip.load_ts > v.slow):
        then = trip_at(vs, v.slow)
        if then is not None and then is not trip:
            _deliver_late(ctx, vs, then, fence, v, fs, out)
            return
        trip = then
    if trip is None:
        if v.loaded:
            manifest.unmatched_disposal(ctx, vs, fence, v, late, out)
        return
    if trip.departed < 0:
        return  # never left the loading site: not an unload
    _resolve_source(ctx, vs, trip, fence, v.slow, out)
    _judge_unload(ctx, vs, trip, fence, v, fs, late, out)
    out.append(trip_record(vs, trip))
    close(vs, trip, trip.unload_ts)


def _judge_unload(
    ctx: EngineContext,
    vs: VehicleState,
    trip: Trip,
    fence: str,
    v: Visit,
    fs: FenceSet,
    late: bool,
    out,
) -> None:
    """Record the trip's unload at ``fence``: delivered, or unapproved (with its alert)."""
    permit = ctx.registry.permits.get(trip.permit) if trip.permit else None
    covering = {fence, *fs.unload}
    if permit is not None and not (covering & permit.terminals):
        other = _permit_listing(ctx, vs, trip, covering)
        if other is not None:
            trip.permit, permit = other.id, other
    if permit is not None and not (covering & permit.terminals):
        trip.status = "unapproved"
        manifest.unapproved_terminal(ctx, vs, fence, v, trip, late, out)
    else:
        trip.status = "delivered"
    trip.unload_fence = fence
    trip.unload_ts = v.slow
    trip.late = trip.late or late


def _deliver_late(
    ctx: EngineContext, vs: VehicleState, trip: Trip, fence: str, v: Visit, fs: FenceSet, out: list
) -> None:
    """A blind-area batch shows the unload of a trip already closed as ``unmatched`` (by the
    next load, or its deadline): it was delivered after all."""
    if trip.status != "unmatched" or not 0 <= trip.departed <= v.slow:
        return  # already unloaded (a second dwell), or not yet left its site then
    _resolve_source(ctx, vs, trip, fence, v.slow, out)
    _judge_unload(ctx, vs, trip, fence, v, fs, True, out)
    trip.ended = trip.unload_ts  # what trip_at sees: the drive after it was empty
    out.append(trip_record(vs, trip))


def _resolve_source(
    ctx: EngineContext, vs: VehicleState, trip: Trip, fence: str, unload_ts: int, out: list
) -> None:
    """The trip's ``unmatched_source`` was raised (it is overdue, or was closed undelivered)
    but a blind-area batch shows it unloaded within the deadline after all: the alert is sent
    again (same id, as first raised) with the unload as ``ended_ts``, resolved rather than
    withdrawn, since it was right on what was known then. An unload after the deadline leaves
    the alert as it is: the load was late."""
    raised = trip.overdue or trip.status == "unmatched"
    if raised and unload_ts <= trip.departed + ctx.th.trip_deadline_ms:
        manifest.unmatched_source(ctx, vs, trip, out, resolved=(fence, unload_ts))


def _permit_listing(ctx: EngineContext, vs: VehicleState, trip: Trip, covering: set):
    """Another permit of the vehicle, valid for the trip's site on the load's date and in its
    hours when the load left, that lists one of the ``covering`` unload fences (a site can
    have several permits with different terminals; the trip was opened under the first by
    id), or None."""
    left = trip.departed if trip.departed >= 0 else trip.load_ts
    for permit in ctx.registry.permits_of(vs.vehicle):
        if (
            covering & permit.terminals
            and permit.allows(vs.vehicle, trip.site, trip.load_ts, any_hour=True)
            and permit.in_hours(left)
        ):
            return permit
    return None


def check_deadline(ctx: EngineContext, vs: VehicleState, now: int, out: list) -> None:
    """Time-driven: raise ``unmatched_source`` for an undelivered trip past its deadline."""
    trip = vs.trip
    if trip is None or trip.departed < 0:
        return
    th = ctx.th
    deadline = trip.departed + th.trip_deadline_ms
    if now >= trip.departed + th.trip_expiry_ms:
        if not trip.overdue:
            manifest.unmatched_source(ctx, vs, trip, out)
        # Dated by the deadlines, never by when a tick or a ping noticed (issue 11: the fleet
        # run notices at a tick, the vehicle replayed alone at its next ping or the end).
        trip.overdue = True
        trip.status = "unmatched"
        out.append(trip_record(vs, trip))
        close(vs, trip, trip.departed + th.trip_expiry_ms)
        return
    if trip.overdue or now < deadline or dwell_under_way(ctx, vs, UNLOAD, deadline):
        return
    manifest.unmatched_source(ctx, vs, trip, out)
    trip.overdue = True
    trip.due = trip.departed + th.trip_expiry_ms
    out.append(trip_record(vs, trip))


def dwell_under_way(ctx: EngineContext, vs: VehicleState, bits: int, by: int) -> bool:
    """A dwell at a fence of kinds ``bits`` under way on the live track, begun by ``by``.

    A deadline does not fire while the delivery that meets it is still being dwelt.
    """
    for fid, v in vs.live.visits.items():
        if v.done == PENDING and 0 <= v.slow <= by and ctx.kind_bit.get(fid, 0) & bits:
            return True
    return False


def close(vs: VehicleState, trip: Trip, ended: int) -> None:
    """The vehicle's trip ends at ``ended``: keep it among the last few for :func:`trip_at`."""
    trip.ended = ended
    vs.past.append(trip)
    del vs.past[:-_PAST_KEEP]
    vs.trip = None


def sensor_says_loaded(last: Trip, reported: str) -> bool:
    """Whether a sensor reporting ``reported`` (not ``empty``) after the vehicle's ``last``
    trip closed means a load. Not while it repeats the value it was stuck at when the tipper
    unloaded that trip (issue 11: the drive home of a truck whose sensor is stuck at ``half``
    is empty); any other value ends that doubt."""
    if reported == last.stuck:
        return False
    last.stuck = None
    return True


def trip_at(vs: VehicleState, ts: int) -> Trip | None:
    """The vehicle's trip as it was at event time ``ts`` (None: no load under way then).

    Backfilled pings are judged against this, not against the trip open now: a blind-area
    batch of an empty drive that arrives after the next load must not count as loaded.
    """
    trip = vs.trip
    if trip is not None and trip.load_ts <= ts:
        return trip
    for old in reversed(vs.past):
        if old.load_ts <= ts < old.ended:
            return old
    return None


def overdue_at(ctx: EngineContext, trip: Trip, ts: int) -> bool:
    """Whether ``trip`` was already overdue (``unmatched_source`` raised) at event time ``ts``."""
    return trip.overdue and ts >= trip.departed + ctx.th.trip_deadline_ms
