"""Stop detection by displacement (after Traccar's displacement-based motion logic).

The core (``stream.engine.core.apply``) keeps the stop up to date inline, for speed; this
module judges long stops and closes them. A stop starts at a ping slower than ``slow_kmh`` and
lasts while the vehicle stays within ``stop_radius_m`` of where it stopped and slower than
``moving_kmh``; so GPS jitter of a parked vehicle neither ends the stop nor starts a new one.
Each stop remembers the kinds of places any of its pings touched (fences, and visits with a
pending exit) and whether the vehicle was loaded, which is what ``suspected_dumping`` and
``unregistered_collection`` judge. Stops of at least ``stop_report_ms`` are reported as
``stop`` events when they end.
"""

from __future__ import annotations

from stream.engine.alerts import update_alert
from stream.engine.context import KNOWN, EngineContext
from stream.engine.events import Event, EventKind
from stream.engine.facts import Facts
from stream.engine.rules import dumping, kitchen
from stream.engine.state import Stop, Track, VehicleState
from stream.ping import iso_ts


def check(
    ctx: EngineContext, vs: VehicleState, tr: Track, st: Stop, facts: Facts, out: list
) -> None:
    """A stop is long enough and touched no known place: let the stop rule of the vehicle's
    kind judge it (``facts``: those of the current ping)."""
    if facts.info.muck:
        dumping.check_stop(ctx, vs, tr, st, facts, out)
    else:
        kitchen.check_stop(ctx, vs, tr, st, facts, out)


def end_stop(
    ctx: EngineContext, vs: VehicleState, tr: Track, st: Stop, ended: int, out: list
) -> None:
    """Close the track's stop at ``ended`` (the ping that moved on)."""
    tr.stop = None
    if st.last - st.ts >= ctx.th.stop_report_ms:
        out.append(
            Event(
                EventKind.STOP,
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
                alert["evidence"]["duration_s"] = (st.last - st.ts) // 1000  # how long stopped
                update_alert(alert, out, ended_ts=iso_ts(ended))
