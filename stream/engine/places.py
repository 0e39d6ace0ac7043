"""Fence visits with hysteresis, and dwell inside them.

Enter is immediate: the first ping inside a fence emits ``enter``. Exit needs confirmation: the
vehicle must be outside for ``exit_hold_ms`` over at least two pings; a ping back inside before
that cancels the pending exit. So GPS jitter at a gate (in, out, in, out...) gives one ``enter``
and no ``exit`` — no flapping — and the exit, once confirmed, is dated at the first ping outside.

A vehicle has visits in every fence covering it except corridors not on its own permits
(``EngineContext.visible``): near a hub a point lies in a hundred overlapping corridors of other
sites' routes, and entering or leaving those means nothing for this vehicle (route deviation
checks the covering corridors directly, whatever the visits).

Fences whose kind matters to the vehicle (sites, terminals and transfer points for muck trucks;
producers and plants for kitchen/oil vehicles) also track *dwell*: a slow spell (starting below
``slow_kmh``, broken only at ``moving_kmh`` or more) inside the visit — pending exits included —
lasting ``dwell_ms`` — up to the departure estimated from the first moving ping (see
:func:`left_at`), since parked vehicles report sparsely. A completed dwell is handed to the trip
or round logic once per visit.

Dwells seen by two tracks (the live stream and a backfill segment of the same blind area) are
recognised as one visit through the vehicle's ``visit_log`` (see :func:`same_visit`).
"""

from __future__ import annotations

import math
from functools import reduce
from itertools import repeat
from operator import or_

from stream.engine import rounds, trips
from stream.engine.alerts import update_alert
from stream.engine.context import M_PER_DEG, PLANT, PRODUCER, SITE, UNLOAD, EngineContext, FenceSet
from stream.engine.events import Event, EventKind
from stream.engine.rules import kitchen
from stream.engine.state import VehicleState
from stream.engine.track_state import ACTED, IRRELEVANT, PENDING, LoggedVisit, Track, Visit
from stream.eventtime import iso_ts
from stream.ping import Ping

_LOG_KEEP = 8
_GROUPS = (SITE, UNLOAD, PRODUCER, PLANT)  # a dwell acts once per group and visit


def fence_event(
    ctx: EngineContext,
    vs: VehicleState,
    detect: str,
    fid: str,
    ts: int,
    lat: float,
    lng: float,
    late: bool,
) -> Event:
    """An enter/exit/cross event, in Tile38's vocabulary."""
    return Event(
        EventKind.FENCE,
        {
            "detect": detect,
            "vehicle": vs.vehicle,
            "fence": fid,
            "kind": ctx.kind_name.get(fid),
            "ts": iso_ts(ts),
            "lat": lat,
            "lng": lng,
            "late": late,
        },
    )


def update_visits(
    ctx: EngineContext,
    vs: VehicleState,
    tr: Track,
    p: Ping,
    fs: FenceSet,
    ids: tuple[str, ...],
    speed: float,
    late: bool,
    out: list,
) -> None:
    """Apply one ping's covering fences to the track's visits (enter, pending exit, exit).

    ``ids`` are the fences of ``fs`` the vehicle keeps visits for (``EngineContext.visible``);
    ``speed`` the ping's (reported or implied). Called only when they differ from the previous
    ping's or an exit is pending.
    """
    visits = tr.visits
    ts = p.ts
    kind_bit = ctx.kind_bit
    mask = tr.vmask
    if ids != tr.ids:
        dwell_kinds = ctx.vehicles[vs.vehicle].dwell_kinds
        # Fences of the last ping have visits with no exit pending: only new ones matter.
        for fid in ctx.entered(tr.ids, ids):
            v = visits.get(fid)
            if v is None:
                bit = kind_bit[fid]
                mask |= bit
                done = PENDING if bit & dwell_kinds else IRRELEVANT
                visits[fid] = Visit(
                    ts,
                    done=done,
                    prev=tr.last_ts,
                    loaded=p.loaded != "empty",
                    emptied=p.loaded not in _FULL,
                )
                if done == PENDING:
                    tr.dwelling += 1
                out.append(fence_event(ctx, vs, "enter", fid, ts, p.lat, p.lng, late))
            elif v.out >= 0:
                v.out = -1
                v.outn = 0
                tr.exiting -= 1
    if tr.exiting or len(visits) != len(ids):
        th = ctx.th
        hold = th.exit_hold_ms
        inside = fs.idset
        gone = False
        drifting = speed < th.moving_kmh
        for fid in [f for f in visits if f not in inside]:
            v = visits[fid]
            if (
                drifting
                and kind_bit[fid] & UNLOAD
                and ctx.nearby.within(fid, th.gate_drift_m, p.lat, p.lng)
            ):
                _hold(tr, v, ts)
                continue
            if v.out < 0:
                v.out, v.outn, v.oseq, v.olat, v.olng = ts, 1, p.seq, p.lat, p.lng
                tr.exiting += 1
                continue
            if v.outn == 0:  # held by gate drift until now: this is the first fix beyond it
                v.out, v.outn, v.oseq, v.olat, v.olng = ts, 1, p.seq, p.lat, p.lng
                continue
            v.outn += 1
            if v.outn >= 2 and ts - v.out >= hold:
                del visits[fid]
                tr.exiting -= 1
                gone = True
                _exited(ctx, vs, tr, fid, v, late, out)
        if gone:
            mask = reduce(or_, map(kind_bit.get, visits, repeat(0)), 0)
    tr.vmask = mask


def _hold(tr: Track, v: Visit, ts: int) -> None:
    """GPS drift at a terminal's gate (issue 11): a slow fix within ``gate_drift_m`` of the
    boundary of an unload place the vehicle is visiting counts as still there. The visit stays
    open with its exit pending but *held* (no fix beyond the band yet: ``outn`` 0), so the
    pings go on being checked and the exit, once the vehicle leaves, is dated at its first fix
    beyond the band; the dwell (and the tipper) count as at the place meanwhile."""
    if v.out < 0:
        v.out = ts
        tr.exiting += 1
    v.outn = 0


def _exited(
    ctx: EngineContext, vs: VehicleState, tr: Track, fid: str, v: Visit, late: bool, out: list
) -> None:
    if v.done == PENDING:
        tr.dwelling -= 1
    out.append(fence_event(ctx, vs, "exit", fid, v.out, v.olat, v.olng, late))
    if vs.trip is not None:
        trips.on_exit(ctx, vs, fid, v.out, v.oseq, v.olat, v.olng, out)
    if vs.open:  # alerts about the visit (poaching, unsourced delivery) end with it (issue 11)
        kitchen.visit_ended(vs, tr, fid, v, out)
    if tr.restricted and tr.restricted.pop(fid, None):
        alert = vs.open.pop("restricted_zone:" + fid + tr.tag, None)
        if alert is not None:
            update_alert(alert, out, ended_ts=iso_ts(v.out))


def update_dwell(
    ctx: EngineContext,
    vs: VehicleState,
    tr: Track,
    p: Ping,
    speed: float,
    fs: FenceSet,
    late: bool,
    out: list,
) -> None:
    """Advance dwell timers of the track's visits and hand completed dwells to trips/rounds.

    Called only while ``tr.dwelling`` (visits with a dwell still pending) is non-zero.
    """
    th = ctx.th
    ts = p.ts
    slow = speed < th.slow_kmh
    moving = speed >= th.moving_kmh
    not_empty = p.loaded != "empty"
    not_full = p.loaded not in _FULL
    told = p.lift or not not_empty  # the tipper up, or the sensor reporting empty
    for fid, v in list(tr.visits.items()):
        if v.done != PENDING:
            continue
        if told and _told_unload(ctx, fid, v, p):
            _act_now(ctx, vs, tr, fid, v, p, fs, late, out)
            continue
        if not_empty:
            v.loaded = True
        if not_full:
            v.emptied = True
        if moving:
            if (
                v.slow >= 0
                and left_at(ctx, tr, v, p, speed) - v.slow >= th.dwell_ms
                and _may_act(ctx, fid, v)
            ):
                v.done = ACTED  # the dwell lasted until the vehicle left, between two pings
                tr.dwelling -= 1
                _act(ctx, vs, fid, v, p, fs, late, out)
                continue
            v.slow = -1
        elif v.slow < 0:
            if slow:
                v.slow, v.seq, v.lat, v.lng = ts, p.seq, p.lat, p.lng
        elif ts - v.slow >= th.dwell_ms and _may_act(ctx, fid, v):
            v.done = ACTED
            tr.dwelling -= 1
            _act(ctx, vs, fid, v, p, fs, late, out)
            continue
        if v.slow >= 0 and tr is not vs.live:
            _backdate_live(vs, fid, v, ts)


def _told_unload(ctx: EngineContext, fid: str, v: Visit, p: Ping) -> bool:
    """The truck says it unloads here, whatever the dwell (issue 11, docs/domain.md): the tipper
    raised, or the load sensor gone from half/full to empty, in a terminal or transfer point
    (or within ``gate_drift_m`` of its boundary: a held visit). A stuck sensor does not
    outvote the tipper. Not on a fix beyond the drift band (an exit under way)."""
    if not ctx.kind_bit[fid] & UNLOAD or (v.out >= 0 and v.outn > 0):
        return False
    return bool(p.lift) or v.loaded


def _act_now(
    ctx: EngineContext,
    vs: VehicleState,
    tr: Track,
    fid: str,
    v: Visit,
    p: Ping,
    fs: FenceSet,
    late: bool,
    out: list,
) -> None:
    """Act on the visit at ``p`` (the unload starts at its slow spell, else at ``p``)."""
    if v.slow < 0:
        v.slow, v.seq, v.lat, v.lng = p.ts, p.seq, p.lat, p.lng
    v.done = ACTED
    tr.dwelling -= 1
    _act(ctx, vs, fid, v, p, fs, late, out)
    if p.lift and p.loaded in _FULL and vs.trip is None and vs.past:
        vs.past[-1].stuck = p.loaded  # the tipper emptied the truck: its sensor is stuck


def unload_at_gate(
    ctx: EngineContext,
    vs: VehicleState,
    tr: Track,
    p: Ping,
    fid: str,
    fs: FenceSet,
    late: bool,
    out: list,
) -> None:
    """The tipper raised within ``gate_drift_m`` of unload place ``fid``'s boundary, the truck
    not (or no longer) on a visit of it: an unload there (issue 11, docs/domain.md), at ``p``.
    Further lifts of the same stand are the same visit (:func:`same_visit`)."""
    v = Visit(p.ts, slow=p.ts, done=ACTED, seq=p.seq, lat=p.lat, lng=p.lng, prev=tr.last_ts)
    v.loaded = p.loaded != "empty"
    _act(ctx, vs, fid, v, p, fs, late, out)


def _may_act(ctx: EngineContext, fid: str, v: Visit) -> bool:
    """A dwell at a site is a load only once the load sensor, if the truck has one, has
    reported anything but ``empty`` during the visit: a truck that waits at a site and leaves
    empty (turned away, a site inspection) has loaded nothing. Likewise a dwell at a terminal
    or transfer point is an unload only once the sensor has reported anything but ``half`` or
    ``full``: a truck that waits there and drives on still loaded has not delivered (and its
    trip stays open, so route and deadline checks go on). Without a sensor every dwell counts.
    A change reported later in the same visit still counts from the dwell's start."""
    bit = ctx.kind_bit[fid]
    if bit & SITE:
        return v.loaded
    if bit & UNLOAD:
        return v.emptied
    return True


_FULL = ("half", "full")


def left_at(ctx: EngineContext, tr: Track, v: Visit, p: Ping, speed: float) -> int:
    """When a vehicle seen moving at ``p`` left the spot of its slow spell.

    Parked vehicles report every minute or so, so the last slow ping can be a minute before
    the vehicle left: estimate the departure from the distance covered at the reported speed,
    within the gap between the previous ping and this one.
    """
    dy = (p.lat - v.lat) * M_PER_DEG
    dx = (p.lng - v.lng) * ctx.m_lng
    travelled_ms = math.sqrt(dx * dx + dy * dy) / max(speed, 1.0) * 3600.0
    return max(tr.last_ts, min(p.ts, p.ts - int(travelled_ms)))


def _backdate_live(vs: VehicleState, fid: str, v: Visit, ts: int) -> None:
    """A backfilled slow spell in a fence the live track entered right after the blind gap
    (no live ping between) is the start of the live dwell too: a dwell split by the blind
    area still completes."""
    lv = vs.live.visits.get(fid)
    if lv is None or lv.done != PENDING or lv.prev > ts:
        return
    if lv.slow < 0 or v.slow < lv.slow:
        lv.slow, lv.seq, lv.lat, lv.lng = v.slow, v.seq, v.lat, v.lng


def _act(
    ctx: EngineContext,
    vs: VehicleState,
    fid: str,
    v: Visit,
    p: Ping,
    fs: FenceSet,
    late: bool,
    out: list,
) -> None:
    bit = ctx.kind_bit[fid]
    if same_visit(ctx, vs, bit, fid, v, p.ts):
        return
    if bit & SITE:
        trips.on_load(ctx, vs, fid, v, late, out)
    elif bit & UNLOAD:
        trips.on_unload(ctx, vs, fid, v, fs, late, out)
    elif bit & PRODUCER:
        rounds.on_collect(ctx, vs, fid, v, late, out)
    elif bit & PLANT:
        rounds.on_deliver(ctx, vs, fid, v, late, out)


def same_visit(
    ctx: EngineContext, vs: VehicleState, bit: int, fid: str, v: Visit, now: int
) -> bool:
    """True when this dwell continues one already acted on; otherwise log it and return False.

    Two dwells of one group (load, unload, collect, deliver) are one visit when the new one
    is still going after the ping that preceded the logged visit on its track, and starts
    while the logged one is still seen (overlapping fences: a transfer point inside a terminal
    acts once) or, in the same fence, no later than ``visit_merge_ms`` after it was last seen
    (nothing separates them: so the live view and a backfill segment of the same blind area
    agree on one load or unload instead of counting it twice). Dwells at different fences one
    after the other are separate visits: three restaurants of a food street served in ten
    minutes are three collections.
    """
    group = next(g for g in _GROUPS if g & bit)
    start = v.slow
    merge = ctx.th.visit_merge_ms
    for entry in vs.visit_log:
        if entry.group != group:
            continue
        seen = max(entry.seen, _still_there(vs, entry.fence, v))
        if entry.fence == fid:
            same = start <= seen + merge and now >= entry.prev
        else:  # another fence: only if the two dwells overlap in time
            same = start <= seen and now >= entry.start
        if same:
            entry.seen = max(seen, now)
            return True
    vs.visit_log.append(LoggedVisit(fid, start, now, v.prev, group))
    del vs.visit_log[:-_LOG_KEEP]
    return False


def _still_there(vs: VehicleState, fid: str, current: Visit) -> int:
    """Latest time a track is known to be on an acted visit of ``fid`` other than ``current``
    (-1 if none is): the logged visit may still be going on there."""
    seen = -1
    for tr in (vs.live, vs.shadow):
        if tr is not None:
            v = tr.visits.get(fid)
            if v is not None and v is not current and v.done == ACTED and tr.last_ts > seen:
                seen = tr.last_ts
    return seen
