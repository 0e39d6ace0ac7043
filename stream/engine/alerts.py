"""Alert records: deterministic ids, severity, evidence and the per-vehicle, per-type cooldown.

An alert is a plain dict in the shared alert format (docs/formats.md): ``id``, ``type``,
``vehicle``, ``district``, ``severity``, ``ts`` (when the behaviour started), ``ended_ts``,
``lat``, ``lng``, ``fence``, ``permit``, ``trip``, ``late``, ``evidence``.

The id hashes the type, the vehicle and the anchor event time (the ping or moment the behaviour
started), so re-processing the same input — after a crash, in a replay, split in any way — gives
the same ids. An alert whose end becomes known later is emitted again with the same id; the
consumer keeps the last version. The cooldown compares anchor times, not processing times, so it
is deterministic too: an alert of a type starting within ``cooldown_ms`` of one already raised for
the vehicle is suppressed.
"""

from __future__ import annotations

import hashlib
from typing import Any

from stream.engine.context import EngineContext
from stream.engine.events import Event, EventKind
from stream.engine.state import VehicleState
from stream.eventtime import iso_ts

Anchor = tuple  # (seq, ts, lat, lng): the ping (or interpolated point) where a behaviour starts
_KEEP = 4  # recent alert start times kept per type for the cooldown


def alert_id(kind: str, vehicle: str, anchor_ts: int) -> str:
    """Deterministic alert id from the type, the vehicle and the anchor's event time."""
    text = f"{kind}|{vehicle}|{anchor_ts}".encode()
    return hashlib.blake2b(text, digest_size=10).hexdigest()


def record_id(kind: str, vehicle: str, ts: int) -> str:
    """Deterministic id of a trip or round record."""
    text = f"{kind}|{vehicle}|{ts}".encode()
    return kind[0].upper() + "-" + hashlib.blake2b(text, digest_size=8).hexdigest()


def ping_ref(seq: int | None, ts: int, lat: float, lng: float) -> dict[str, Any]:
    """One evidence ping in output form."""
    return {"seq": seq, "ts": iso_ts(ts), "lat": lat, "lng": lng}


def make_alert(
    ctx: EngineContext,
    vs: VehicleState,
    kind: str,
    anchor: Anchor,
    *,
    rule: str,
    thresholds: dict[str, Any],
    pings: list,
    late: bool,
    fence: str | None = None,
    permit: str | None = None,
    trip: str | None = None,
    ended_ts: int | None = None,
    severity: str | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Build an alert dict (not yet raised: see :func:`raise_alert`).

    ``pings`` are ``(seq, ts, lat, lng)`` sequences; ``extra`` goes into the evidence.
    """
    seq, ts, lat, lng = anchor
    info = ctx.vehicles[vs.vehicle]
    district = info.vehicle.district
    if fence is not None:
        fence_obj = ctx.fences.get(fence)
        if fence_obj is not None and fence_obj.district:
            district = fence_obj.district  # tenancy follows where it happened
    evidence: dict[str, Any] = {"rule": rule, "thresholds": thresholds}
    evidence["pings"] = [_ref(p) for p in pings]
    if extra:
        evidence.update(extra)
    return {
        "id": alert_id(kind, vs.vehicle, ts),
        "type": kind,
        "vehicle": vs.vehicle,
        "district": district,
        "severity": severity or ctx.th.severity[kind],
        "ts": iso_ts(ts),
        "ended_ts": iso_ts(ended_ts),
        "lat": lat,
        "lng": lng,
        "fence": fence,
        "permit": permit,
        "trip": trip,
        "late": late,
        "evidence": evidence,
    }


def raise_alert(
    vs: VehicleState, alert: dict[str, Any], anchor_ts: int, cooldown_ms: int, out: list
) -> bool:
    """Emit ``alert`` unless the cooldown suppresses it; True when emitted.

    Re-raising an alert with the same anchor (same id) is an update and is always emitted.
    """
    recent = vs.raised.get(alert["type"])
    if recent is None:
        vs.raised[alert["type"]] = [anchor_ts]
    elif anchor_ts not in recent:
        for t in recent:
            if abs(anchor_ts - t) < cooldown_ms:
                return False
        recent.append(anchor_ts)
        recent.sort()
        del recent[:-_KEEP]
    out.append(Event(EventKind.ALERT, copy_alert(alert)))
    return True


def update_alert(alert: dict[str, Any], out: list, **changes: Any) -> None:
    """Apply ``changes`` to an already raised alert and emit it again (same id)."""
    alert.update(changes)
    out.append(Event(EventKind.ALERT, copy_alert(alert)))


def copy_alert(alert: dict[str, Any]) -> dict[str, Any]:
    """A copy that later updates of the kept alert do not reach (evidence is copied too)."""
    out = dict(alert)
    evidence = dict(alert["evidence"])
    evidence["pings"] = list(evidence["pings"])
    out["evidence"] = evidence
    return out


def evidence_pings(recent: list, since: int, limit: int) -> list:
    """Recent pings of a track at or after ``since`` (at most ``limit``, the latest)."""
    chosen = [r for r in recent if r.ts >= since]
    return chosen[-limit:]


def _ref(p) -> dict[str, Any]:
    if isinstance(p, tuple | list):
        return ping_ref(*p[:4])
    out = ping_ref(p.seq, p.ts, p.lat, p.lng)
    if p.warnings:  # what parsing dropped (e.g. "lift: ..."): the officer sees the rule was blind
        out["warnings"] = list(p.warnings)  # issue 11; absent otherwise, outputs unchanged
    return out
