"""Sustained episodes: a rule broken on consecutive pings for long enough raises one alert.

Shared by overspeed, uncovered_load and route_deviation. The episode starts at its first
breaking ping (the alert's ``ts``), raises once its duration reaches the rule's threshold, and
ends at the first ping that no longer breaks the rule (the alert's ``ended_ts``; the alert is
emitted again with it).
"""

from __future__ import annotations

from collections.abc import Callable

from stream.engine.alerts import raise_alert, update_alert
from stream.engine.state import Episode, Track, VehicleState
from stream.ping import Ping, iso_ts


def advance(
    ctx,
    vs: VehicleState,
    tr: Track,
    slot: str,
    kind: str,
    breaking: bool,
    p: Ping,
    sustain_ms: int,
    strict: bool,
    build: Callable[[Episode], dict],
    out: list,
    value: float = 0.0,
) -> None:
    """Advance the episode kept in ``tr.<slot>`` by one ping.

    Parameters
    ----------
    breaking : bool
        Whether this ping breaks the rule.
    sustain_ms, strict : int, bool
        The episode raises when its duration is ``> sustain_ms`` (strict) or ``>=``.
    build : callable
        Makes the alert dict from the episode (anchor = its first ping).
    value : float
        A magnitude to keep the peak of (speed), reported in the evidence at the end.
    """
    ep = getattr(tr, slot)
    key = kind + tr.tag
    if not breaking:
        if ep is not None:
            setattr(tr, slot, None)
            alert = vs.open.pop(key, None)
            if alert is not None:
                alert["evidence"]["peak"] = ep.peak
                update_alert(alert, out, ended_ts=iso_ts(p.ts))
        return
    if ep is None:
        ep = Episode(p.seq, p.ts, p.lat, p.lng, None, value)
        setattr(tr, slot, ep)
    elif value > ep.peak:
        ep.peak = value
    if ep.alert is not None:
        return
    elapsed = p.ts - ep.ts
    if elapsed > sustain_ms if strict else elapsed >= sustain_ms:
        alert = build(ep)
        if raise_alert(vs, alert, ep.ts, ctx.th.cooldown_ms, out):
            ep.alert = alert["id"]
            vs.open[key] = alert
        else:
            ep.alert = ""
