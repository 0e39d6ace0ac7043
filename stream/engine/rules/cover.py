"""``uncovered_load`` (未密闭): loaded and moving with the cover open, sustained.

Breaking pings are loaded, faster than ``uncovered_speed_kmh`` and report ``cover_open: true``
(terminals that do not report the cover never break the rule); the episode raises after
``uncovered_ms``.
"""

from __future__ import annotations

from stream.engine.alerts import evidence_pings, make_alert
from stream.engine.rules.episode import advance
from stream.engine.state import Episode, Track, Trip, VehicleState
from stream.ping import Ping


def check(
    ctx,
    vs: VehicleState,
    tr: Track,
    p: Ping,
    speed: float,
    loaded: bool,
    trip: Trip | None,
    late: bool,
    out: list,
) -> None:
    """Apply one ping (call only when the cover is reported open or an episode is open);
    ``trip`` is the vehicle's trip at the ping's event time."""
    th = ctx.th
    breaking = bool(p.cover_open) and loaded and speed > th.uncovered_speed_kmh
    if not breaking and tr.unc is None:
        return

    def build(ep: Episode) -> dict:
        return make_alert(
            ctx,
            vs,
            "uncovered_load",
            (ep.seq, ep.ts, ep.lat, ep.lng),
            rule="loaded, moving and cover open on every ping for the sustain time",
            thresholds={"moving_kmh": th.uncovered_speed_kmh, "sustain_s": th.uncovered_ms / 1000},
            pings=evidence_pings(tr.recent, ep.ts, th.evidence_pings),
            late=late,
            permit=trip.permit if trip else None,
            trip=trip.id if trip else None,
        )

    advance(
        ctx, vs, tr, "unc", "uncovered_load", breaking, p, th.uncovered_ms, False, build, out, speed
    )
