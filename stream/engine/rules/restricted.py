"""``restricted_zone`` (闯禁区 / 禁行时段): inside a no-go zone during its hours.

A restricted fence applies to the vehicle kinds it names (all kinds when it names none) during its
``hours`` (Beijing time; always when it has none). The alert is dated at the first ping inside
during the hours and ends when the exit is confirmed (see ``stream.engine.places``); one alert per
visit. Between sparse pings a straight segment can cross a zone with neither end inside it: then
the alert is dated at the interpolated entry time and placed at the entry point, ``ended_ts`` is
the interpolated exit, and a ``cross`` fence event is emitted (Tile38's ``cross``). Only
consecutive pings of one track at most ``crossing_gap_ms`` apart form such a segment (the core
checks that before calling :func:`check_crossing`).
"""

from __future__ import annotations

import shapely

from stream.engine.alerts import make_alert, raise_alert
from stream.engine.context import EngineContext
from stream.engine.facts import Facts
from stream.engine.places import fence_event
from stream.engine.state import VehicleState
from stream.engine.track_state import Track
from stream.eventtime import BEIJING_OFFSET_MS
from stream.ping import Ping


def applies(fence, kind: str, ts: int) -> bool:
    """True when ``fence`` restricts vehicles of ``kind`` at epoch ms ``ts``."""
    if fence.vehicle_kinds and kind not in fence.vehicle_kinds:
        return False
    if not fence.hours:
        return True
    minute = ((ts + BEIJING_OFFSET_MS) // 60_000) % 1440
    return any(w.contains(minute) for w in fence.hours)


def check_inside(
    ctx: EngineContext, vs: VehicleState, tr: Track, p: Ping, facts: Facts, out: list
) -> None:
    """Raise for restricted fences covering the ping (call only when ``fs.restricted``)."""
    kind = facts.info.kind
    late = facts.late
    for fence in facts.fs.restricted:
        if fence.id in tr.restricted or not applies(fence, kind, p.ts):
            continue
        anchor = (p.seq, p.ts, p.lat, p.lng)
        pings = [anchor] if tr.last_ts < 0 else [(tr.seq, tr.last_ts, tr.lat, tr.lng), anchor]
        alert = _alert(ctx, vs, fence, kind, anchor, pings, late, None, crossed=False)
        _raise(ctx, vs, tr, fence.id, alert, p.ts, out, keep_open=True)


def check_crossing(
    ctx: EngineContext, vs: VehicleState, tr: Track, p: Ping, facts: Facts, out: list
) -> None:
    """Raise for restricted zones the segment from the previous ping crosses without a ping
    inside (call only when the track has a previous ping)."""
    fs = facts.fs
    kind = facts.info.kind
    late = facts.late
    candidates = ctx.restricted_near(tr.lat, tr.lng, p.lat, p.lng)
    if not candidates:
        return
    line = None
    lat0, lng0, lat1, lng1 = tr.lat, tr.lng, p.lat, p.lng
    lo_lat, hi_lat = (lat0, lat1) if lat0 <= lat1 else (lat1, lat0)
    lo_lng, hi_lng = (lng0, lng1) if lng0 <= lng1 else (lng1, lng0)
    for fence in candidates:
        fid = fence.id
        b = ctx.bounds[fid]
        if hi_lng < b[0] or lo_lng > b[2] or hi_lat < b[1] or lo_lat > b[3]:
            continue  # the segment's box misses the zone's box
        if fid in fs.ids or fid in tr.ids or fid in tr.restricted:
            continue
        if fence.vehicle_kinds and kind not in fence.vehicle_kinds:
            continue
        if line is None:
            if tr.lat == p.lat and tr.lng == p.lng:
                return
            line = shapely.LineString([(tr.lng, tr.lat), (p.lng, p.lat)])
        if not fence.area.intersects(line):
            continue
        part = line.intersection(fence.area)
        dists = [line.project(shapely.Point(x, y)) for x, y in shapely.get_coordinates(part)]
        if not dists:
            continue
        f_in, f_out = min(dists) / line.length, max(dists) / line.length
        dt = p.ts - tr.last_ts
        t_in, t_out = tr.last_ts + round(f_in * dt), tr.last_ts + round(f_out * dt)
        if not (applies(fence, kind, t_in) or applies(fence, kind, t_out)):
            continue
        lat_in = tr.lat + f_in * (p.lat - tr.lat)
        lng_in = tr.lng + f_in * (p.lng - tr.lng)
        anchor = (None, t_in, lat_in, lng_in)
        pings = [(tr.seq, tr.last_ts, tr.lat, tr.lng), (p.seq, p.ts, p.lat, p.lng)]
        out.append(fence_event(ctx, vs, "cross", fid, t_in, lat_in, lng_in, late))
        alert = _alert(ctx, vs, fence, kind, anchor, pings, late, t_out, crossed=True)
        _raise(ctx, vs, tr, fid, alert, t_in, out, keep_open=False)


def window_at(fence, ts: int) -> str | None:
    """The zone's hours window containing epoch ms ``ts`` (Beijing time), or None."""
    minute = ((ts + BEIJING_OFFSET_MS) // 60_000) % 1440
    return next((str(w) for w in fence.hours if w.contains(minute)), None)


def _alert(
    ctx: EngineContext, vs, fence, kind: str, anchor, pings, late, ended, crossed: bool
) -> dict:
    # Evidence (issue 11): the zone and what of it applied, the hours window the entry (for a
    # crossing, else its exit) fell in and the vehicle's kind.
    window = None
    if fence.hours:
        window = window_at(fence, anchor[1])
        if window is None and ended is not None:
            window = window_at(fence, ended)
    return make_alert(
        ctx,
        vs,
        "restricted_zone",
        anchor,
        rule="inside a restricted zone during its hours, for a vehicle kind it restricts",
        thresholds={
            "hours": [str(w) for w in fence.hours],
            "vehicle_kinds": sorted(fence.vehicle_kinds),
        },
        pings=pings,
        late=late,
        fence=fence.id,
        ended_ts=ended,
        extra={
            "crossed": crossed,
            "ended_by": "interpolated exit" if crossed else None,
            "zone": {
                "id": fence.id,
                "name": fence.name,
                "hours": [str(w) for w in fence.hours],
                "vehicle_kinds": sorted(fence.vehicle_kinds),
            },
            "window": window,
            "vehicle_kind": kind,
        },
    )


def _raise(ctx: EngineContext, vs, tr, fid, alert, ts, out, keep_open: bool) -> None:
    raised = raise_alert(vs, alert, ts, ctx.th.cooldown_ms, out)
    if keep_open:
        tr.restricted[fid] = alert["id"] if raised else ""
        if raised:
            vs.open["restricted_zone:" + fid + tr.tag] = alert
