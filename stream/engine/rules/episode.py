"""Sustained episodes: a rule broken on consecutive pings for long enough raises one alert.

Shared by overspeed, uncovered_load and route_deviation. The episode starts at its first
breaking ping (the alert's ``ts``), raises once its duration reaches the rule's threshold, and
ends at the first ping that no longer breaks the rule (the alert's ``ended_ts``; the alert is
emitted again with it, its evidence brought up to date by the rule's ``describe``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from stream.engine.alerts import raise_alert, update_alert
from stream.engine.context import EngineContext
from stream.engine.state import VehicleState
from stream.engine.track_state import Episode, Track
from stream.eventtime import iso_ts
from stream.ping import Ping


@dataclass(slots=True)
class Verdict:
    """What a sustained rule says about one ping (built only while the rule is active).

    The episode raises when its duration is ``> sustain_ms`` (``strict``) or ``>=``; ``build``
    makes the alert dict from the episode (anchor = its first ping); ``value`` is a magnitude
    (speed, metres off a corridor) whose peak and mean the episode keeps; ``describe`` gives the
    evidence keys that depend on the whole episode (peak, mean, duration), applied again when
    it ends; ``ref`` is what ``value`` is measured against, kept by a new episode.
    """

    kind: str  # the alert type
    breaking: bool  # whether this ping breaks the rule
    sustain_ms: int
    strict: bool
    build: Callable[[Episode], dict]
    value: float = 0.0
    describe: Callable[[Episode], dict] | None = None
    ref: str | None = None


def advance(
    ctx: EngineContext,
    vs: VehicleState,
    tr: Track,
    ep: Episode | None,
    verdict: Verdict,
    p: Ping,
    out: list,
) -> Episode | None:
    """Advance the track's episode ``ep`` of one rule by one ping; return the episode the
    track keeps for it (None once it has ended).

    Seven parameters (issue 11): the episode goes in and comes back so that the caller names
    its ``Track`` field (``tr.over = advance(..., tr.over, ...)``) instead of a slot string.
    """
    key = verdict.kind + tr.tag
    if not verdict.breaking:
        if ep is not None:
            alert = vs.open.pop(key, None)
            if alert is not None:
                evidence = alert["evidence"]
                evidence["peak"] = ep.peak
                if verdict.describe is not None:
                    evidence.update(verdict.describe(ep))
                update_alert(alert, out, ended_ts=iso_ts(p.ts))
        return None
    value = verdict.value
    if ep is None:
        ep = Episode(p.seq, p.ts, p.lat, p.lng, None, value, p.ts, value, 1, verdict.ref)
    else:
        if value > ep.peak:
            ep.peak = value
        ep.last = p.ts
        ep.total += value
        ep.n += 1
    if ep.alert is not None:
        return ep
    elapsed = p.ts - ep.ts
    sustain_ms = verdict.sustain_ms
    if elapsed > sustain_ms if verdict.strict else elapsed >= sustain_ms:
        alert = verdict.build(ep)
        if raise_alert(vs, alert, ep.ts, ctx.th.cooldown_ms, out):
            ep.alert = alert["id"]
            vs.open[key] = alert
        else:
            ep.alert = ""
    return ep


def span_s(ep: Episode) -> int:
    """Whole seconds from the episode's first breaking ping to its latest."""
    return (ep.last - ep.ts) // 1000
