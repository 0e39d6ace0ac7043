"""Stop detection by displacement (after Traccar's displacement-based motion logic).

The core (``stream.engine.core.apply``) keeps the stop up to date inline, for speed; this
module judges long stops and closes them. A stop starts at a ping slower than ``slow_kmh`` and
lasts while the vehicle stays within ``stop_radius_m`` of where it stopped and slower than
``moving_kmh``; so GPS jitter of a parked vehicle neither ends the stop nor starts a new one.
A kitchen/oil vehicle's stop is a stop in one place (issue 11, :func:`in_one_place`): within
``collection_radius_m`` of an anchor averaged over its first fixes, and with no steady progress
(``collection_drift_m``), so a jam creeping 44-48 m ends it whatever the first fix's jitter.
Each stop remembers the kinds of places any of its pings touched (fences, and visits with a
pending exit) and whether the vehicle was loaded, which is what ``suspected_dumping`` and
``unregistered_collection`` judge. Stops of at least ``stop_report_ms`` are reported as
``stop`` events when they end.
"""

from __future__ import annotations

from stream.engine.alerts import update_alert
from stream.engine.context import KNOWN, M_PER_DEG, EngineContext
from stream.engine.events import Event, EventKind
from stream.engine.facts import Facts
from stream.engine.rules import dumping, kitchen
from stream.engine.state import VehicleState
from stream.engine.track_state import Stop, Track
from stream.eventtime import iso_ts

# A kitchen/oil stop's anchor is the mean of its first fixes (issue 11): one jittered first
# fix must not decide where the stop is.
ANCHOR_FIXES = 2
# Weight of the newest fix in the running average of the latest fixes (mostly the last two):
# heavy enough that a jam's fixes at the 3-minute mark are not averaged with its first ones.
LATEST_WEIGHT = 0.65


def in_one_place(ctx: EngineContext, st: Stop, lat: float, lng: float, r2: float) -> bool:
    """Fold a slow fix of a kitchen/oil vehicle into its open stop ``st``; whether the stop
    is still a stop in one place (issue 11: a collection is a stop in one place, not slow
    traffic).

    Parameters
    ----------
    ctx : EngineContext
        For ``collection_drift_m`` and metres per degree.
    st : Stop
        The open stop, tracked (``st.n`` > 0).
    lat, lng : float
        The fix.
    r2 : float
        Square of ``collection_radius_m``.

    Returns
    -------
    bool
        True while the fix is within ``collection_radius_m`` of the stop's anchor and the
        running average of the latest fixes within ``collection_drift_m`` of it: a jam creeping
        44-48 m, whose fixes a jittered first fix could keep within 40 m, shows steady progress.
    """
    n = st.n
    if n < ANCHOR_FIXES:
        n += 1
        st.n = n
        st.alat += (lat - st.alat) / n
        st.alng += (lng - st.alng) / n
    st.elat += (lat - st.elat) * LATEST_WEIGHT
    st.elng += (lng - st.elng) * LATEST_WEIGHT
    m_lng = ctx.m_lng
    dy = (lat - st.alat) * M_PER_DEG
    dx = (lng - st.alng) * m_lng
    if dx * dx + dy * dy > r2:
        return False
    dy = (st.elat - st.alat) * M_PER_DEG
    dx = (st.elng - st.alng) * m_lng
    drift = ctx.th.collection_drift_m
    return dx * dx + dy * dy <= drift * drift


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
