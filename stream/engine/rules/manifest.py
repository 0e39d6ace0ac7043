"""Manifest alerts of the muck chain: where a load came from and where it went.

``unmatched_source`` (有源无终), ``unmatched_disposal`` (有终无源), ``unapproved_terminal``
(未按核准地点处置) and ``unpermitted_load`` (无证运输). The trip logic (``stream.engine.trips``)
decides when; these functions build the alert from stored anchors only, so an alert raised by a
tick and the same alert raised by a ping are identical.
"""

from __future__ import annotations

from stream.engine.alerts import make_alert, raise_alert
from stream.engine.context import EngineContext
from stream.engine.state import Trip, VehicleState
from stream.engine.track_state import Visit
from stream.eventtime import iso_ts


def unmatched_source(
    ctx: EngineContext,
    vs: VehicleState,
    trip: Trip,
    out: list,
    resolved: tuple[str, int] | None = None,
) -> None:
    """A trip left its site and did not unload at a terminal within the deadline.

    With ``resolved`` = (unload fence, unload time), the same alert (same id, built from the
    trip as it was when raised) once a blind-area batch has shown the unload within the
    deadline after all: ``ended_ts`` is the unload, and the evidence says what resolved it.
    """
    th = ctx.th
    anchor = (trip.dep_seq, trip.departed, trip.dep_lat, trip.dep_lng)
    load = (trip.load_seq, trip.load_ts, trip.lat, trip.lng)
    extra = {
        "load_ts": iso_ts(trip.load_ts),
        "deadline": iso_ts(trip.departed + th.trip_deadline_ms),
    }
    if resolved is not None:
        extra["resolved_by"] = {
            "unload_fence": resolved[0],
            "unload_ts": iso_ts(resolved[1]),
            "source": "blind-area batch",
        }
    alert = make_alert(
        ctx,
        vs,
        "unmatched_source",
        anchor,
        rule="no unload at a terminal or transfer point within the deadline after leaving the site",
        thresholds={"trip_deadline_s": th.trip_deadline_ms // 1000, "dwell_s": th.dwell_ms // 1000},
        pings=[load, anchor],
        late=trip.late,
        fence=trip.site,
        permit=trip.permit,
        trip=trip.id,
        ended_ts=resolved[1] if resolved is not None else None,
        extra=extra,
    )
    raise_alert(vs, alert, trip.departed, th.cooldown_ms, out)


def unpermitted_load(
    ctx: EngineContext,
    vs: VehicleState,
    site: str,
    trip: Trip,
    late: bool,
    out: list,
    departed: int | None = None,
) -> None:
    """A load at a site with no permit valid for the vehicle, site and date, or (``departed``
    given) one that left the site outside the hours of every such permit."""
    th = ctx.th
    anchor = (trip.load_seq, trip.load_ts, trip.lat, trip.lng)
    permits = [p for p in ctx.registry.permits_of(vs.vehicle) if p.site == site]
    extra = {"permits_checked": [p.id for p in permits]}
    if not permits:
        why = "no permit names this vehicle for this site"
    elif all(not _in_validity(p, trip.load_ts) for p in permits):
        why = "permit not valid on this date"
    elif departed is None:  # a load seen in a blind-area batch: its start
        why = "loaded outside the permit's hours"
    else:
        why = "left the site outside the permit's hours"
        extra["departed"] = iso_ts(departed)
    alert = make_alert(
        ctx,
        vs,
        "unpermitted_load",
        anchor,
        rule="load dwell at a site with no valid permit for the vehicle, site, date and hours",
        thresholds={"dwell_s": th.dwell_ms // 1000, "slow_kmh": th.slow_kmh},
        pings=[anchor],
        late=late,
        fence=site,
        trip=trip.id,
        extra={"reason": why, **extra},
    )
    raise_alert(vs, alert, trip.load_ts, th.cooldown_ms, out)


def unmatched_disposal(
    ctx: EngineContext, vs: VehicleState, fence: str, v: Visit, late: bool, out: list
) -> None:
    """An unload dwell at a terminal/transfer point with no trip open."""
    th = ctx.th
    anchor = (v.seq, v.slow, v.lat, v.lng)
    alert = make_alert(
        ctx,
        vs,
        "unmatched_disposal",
        anchor,
        rule="unload dwell at a terminal or transfer point with no recorded load",
        thresholds={"dwell_s": th.dwell_ms // 1000, "slow_kmh": th.slow_kmh},
        pings=[anchor],
        late=late,
        fence=fence,
    )
    raise_alert(vs, alert, v.slow, th.cooldown_ms, out)


def unapproved_terminal(
    ctx: EngineContext, vs: VehicleState, fence: str, v: Visit, trip: Trip, late: bool, out: list
) -> None:
    """An unload at a terminal/transfer point the trip's permit does not list."""
    th = ctx.th
    anchor = (v.seq, v.slow, v.lat, v.lng)
    permit = ctx.registry.permits[trip.permit]
    alert = make_alert(
        ctx,
        vs,
        "unapproved_terminal",
        anchor,
        rule="unload dwell at a terminal or transfer point the permit does not list",
        thresholds={"dwell_s": th.dwell_ms // 1000, "slow_kmh": th.slow_kmh},
        pings=[anchor],
        late=late,
        fence=fence,
        permit=trip.permit,
        trip=trip.id,
        extra={"approved_terminals": sorted(permit.terminals)},
    )
    raise_alert(vs, alert, v.slow, th.cooldown_ms, out)


def _in_validity(permit, ts: int) -> bool:
    if permit.valid_from is not None and ts < permit.valid_from:
        return False
    return permit.valid_to is None or ts < permit.valid_to
