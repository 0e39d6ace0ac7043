"""``uncovered_load`` (未密闭): loaded and moving with the cover open, sustained.

Breaking pings are loaded, faster than ``uncovered_speed_kmh`` and report ``cover_open: true``
(terminals that do not report the cover never break the rule); the episode raises after
``uncovered_ms``.
"""

from __future__ import annotations

from stream.engine.alerts import evidence_pings, make_alert
from stream.engine.context import EngineContext
from stream.engine.facts import Facts
from stream.engine.rules.episode import Verdict, advance, span_s
from stream.engine.state import VehicleState
from stream.engine.track_state import Episode, Track
from stream.ping import Ping


def check(
    ctx: EngineContext, vs: VehicleState, tr: Track, p: Ping, facts: Facts, out: list
) -> None:
    """Apply one ping (call only when the cover is reported open or an episode is open)."""
    th = ctx.th
    speed = facts.speed
    breaking = bool(p.cover_open) and facts.loaded and speed > th.uncovered_speed_kmh
    if not breaking and tr.unc is None:
        return
    trip = facts.trip

    def build(ep: Episode) -> dict:
        return make_alert(
            ctx,
            vs,
            "uncovered_load",
            (ep.seq, ep.ts, ep.lat, ep.lng),
            rule="loaded, moving and cover open on every ping for the sustain time",
            thresholds={"moving_kmh": th.uncovered_speed_kmh, "sustain_s": th.uncovered_ms / 1000},
            pings=evidence_pings(tr.recent, ep.ts, th.evidence_pings),
            late=facts.late,
            permit=trip.permit if trip else None,
            trip=trip.id if trip else None,
            extra=describe(ep),
        )

    verdict = Verdict("uncovered_load", breaking, th.uncovered_ms, False, build, speed, describe)
    tr.unc = advance(ctx, vs, tr, tr.unc, verdict, p, out)


def describe(ep: Episode) -> dict:
    """How long and how fast it drove uncovered (issue 11)."""
    return {"duration_s": span_s(ep), "peak_kmh": ep.peak}
