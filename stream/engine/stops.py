"""Stop detection by displacement (after Traccar's displacement-based motion logic).

A stop starts at a ping slower than ``slow_kmh`` and lasts while the vehicle stays within
``stop_radius_m`` of where it stopped and slower than ``moving_kmh``; so GPS jitter of a parked
vehicle neither ends the stop nor starts a new one. Each stop remembers the kinds of places any
of its pings touched (fences, and visits with a pending exit) and whether the vehicle was loaded,
which is what ``suspected_dumping`` and ``unregistered_collection`` judge. Stops of at least
``stop_report_ms`` are reported as ``stop`` events when they end.
"""

from __future__ import annotations

from stream.engine.alerts import update_alert
from stream.engine.context import KNOWN, M_PER_DEG, EngineContext
from stream.engine.rules import dumping, kitchen
from stream.engine.state import Stop, Track, VehicleState
from stream.ping import Ping, iso_ts


def update_stop(
    ctx: EngineContext,
    vs: VehicleState,
    tr: Track,
    p: Ping,
    fs,
    speed: float,
    loaded: bool,
    kind: str,
    late: bool,
    out: list,
) -> None:
    """Advance the track's stop by one ping."""
    th = ctx.th
    st = tr.stop
    if st is not None:
        dy = (p.lat - st.lat) * M_PER_DEG
        dx = (p.lng - st.lng) * M_PER_DEG * ctx.cos_lat
        if speed < th.moving_kmh and dx * dx + dy * dy <= th.stop_radius_m * th.stop_radius_m:
            st.last = p.ts
            st.mask |= fs.mask | tr.vmask
            if loaded:
                st.loaded = True
            if kind == "muck":
                dumping.check_stop(ctx, vs, tr, st, late, out)
            else:
                kitchen.check_stop(ctx, vs, tr, st, late, out)
            return
        end_stop(ctx, vs, tr, st, p.ts, out)
    if speed < th.slow_kmh:
        tr.stop = Stop(p.seq, p.ts, p.lat, p.lng, p.ts, fs.mask | tr.vmask, loaded)


def end_stop(
    ctx: EngineContext, vs: VehicleState, tr: Track, st: Stop, ended: int, out: list
) -> None:
    """Close the track's stop at ``ended`` (the ping that moved on)."""
    tr.stop = None
    if st.last - st.ts >= ctx.th.stop_report_ms:
        out.append(
            (
                "stop",
                {
                    "vehicle": vs.vehicle,
                    "ts": iso_ts(st.ts),
                    "ended_ts": iso_ts(st.last),
                    "lat": st.lat,
                    "lng": st.lng,
                    "duration_s": (st.last - st.ts) / 1000,
                    "loaded": st.loaded,
                    "at_known_place": bool(st.mask & KNOWN),
                },
            )
        )
    if st.flags:
        for key in (dumping.KEY, kitchen.KEY):
            alert = vs.open.pop(key + tr.tag, None)
            if alert is not None:
                update_alert(alert, out, ended_ts=iso_ts(ended))
