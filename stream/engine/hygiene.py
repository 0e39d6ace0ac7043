"""Ping hygiene: named filter predicates, each one a reason code (after Traccar's FilterHandler).

A predicate returns True when the ping must be rejected; its name is the reason code carried by
the rejection event (which goes to a dead-letter stream: nothing is dropped silently).

Static checks, in this order (the first that fires names the reason):
``filter_non_finite``, ``filter_swapped``, ``filter_out_of_range``, ``filter_zero``,
``filter_outside_area``, ``filter_too_old`` (before 2000-01-01), ``filter_unknown_vehicle``.
Clock checks against the watermark (or a given now): ``filter_future``, ``filter_too_old``
(GPS week rollover and other clocks far behind). Checks against the vehicle's own track:
``filter_duplicate``, ``filter_impossible_jump``. The engine adds ``stale`` (older than the
reorder window, neither flagged nor old enough to be a blind-area backfill); the ``landun
detect`` reader adds ``bad_json`` and ``bad_field``.
"""

from __future__ import annotations

import math
from dataclasses import replace

from stream.engine.config import Thresholds
from stream.engine.context import M_PER_DEG, EngineContext
from stream.engine.events import Event, EventKind
from stream.engine.track_state import Track
from stream.eventtime import iso_ts
from stream.ping import Ping
from stream.wire_values import looks_like_epoch_seconds

STALE = "stale"
BAD_JSON = "bad_json"
BAD_FIELD = "bad_field"


def filter_non_finite(lat: float, lng: float) -> bool:
    """NaN or infinite coordinates (JSON parsers and float fields let them through)."""
    return not (math.isfinite(lat) and math.isfinite(lng))


def filter_swapped(lat: float, lng: float, area: tuple) -> bool:
    """Latitude and longitude apparently swapped: swapped back, the fix lies in the service area."""
    min_lat, min_lng, max_lat, max_lng = area
    in_area = min_lat <= lat <= max_lat and min_lng <= lng <= max_lng
    return not in_area and min_lat <= lng <= max_lat and min_lng <= lat <= max_lng


def filter_out_of_range(lat: float, lng: float) -> bool:
    """Outside [-90, 90] x [-180, 180]."""
    return not (-90.0 <= lat <= 90.0 and -180.0 <= lng <= 180.0)


def filter_zero(lat: float, lng: float, zero_deg: float) -> bool:
    """(0, 0) "Null Island" or within ``zero_deg`` of it: an unset fix, not a place."""
    return abs(lat) < zero_deg and abs(lng) < zero_deg


def filter_outside_area(lat: float, lng: float, area: tuple) -> bool:
    """Outside the service area grown by ``outside_margin_km`` (``EngineContext.area``)."""
    min_lat, min_lng, max_lat, max_lng = area
    return not (min_lat <= lat <= max_lat and min_lng <= lng <= max_lng)


def filter_unknown_vehicle(vehicle: str, ctx: EngineContext) -> bool:
    """The vehicle is not in the registry (never auto-registered)."""
    return vehicle not in ctx.vehicles


def filter_future(ts: int, ref: int, future_ms: int) -> bool:
    """More than ``future_ms`` after the reference time (the watermark, or now given as data)."""
    return ref >= 0 and ts > ref + future_ms


def filter_too_old(ts: int, ref: int, min_valid_ts: int, max_age_ms: int) -> bool:
    """Before ``min_valid_ts`` (clock reset to 2000), or ``max_age_ms`` behind the reference
    (GPS week rollover sets clocks 1024 weeks back)."""
    return ts < min_valid_ts or (ref >= 0 and ts < ref - max_age_ms)


def filter_duplicate(track: Track, ping: Ping) -> bool:
    """Same event time as an accepted ping of the track (a re-send)."""
    ts = ping.ts
    if ts == track.last_ts:
        return True
    return any(r.ts == ts for r in track.recent)


def filter_impossible_jump(track: Track, ping: Ping, ctx: EngineContext) -> bool:
    """Implied speed from the last accepted ping above ``max_jump_kmh`` over more than
    ``jump_min_m``.

    A vehicle that really is elsewhere (the last accepted fix was the bad one) would be rejected
    forever; so ``jump_reanchor`` consecutive rejected pings that agree with one another are
    accepted. The track remembers the last rejected jump for that (``track.jump``).
    """
    if track.last_ts < 0 or not _is_jump(track.last_ts, track.lat, track.lng, ping, ctx):
        track.jump = None
        return False
    j = track.jump
    if j is not None and ping.ts > j[0] and not _is_jump(j[0], j[1], j[2], ping, ctx):
        if j[3] + 1 >= ctx.th.jump_reanchor:
            track.jump = None
            return False
        track.jump = [ping.ts, ping.lat, ping.lng, j[3] + 1]
        return True
    track.jump = [ping.ts, ping.lat, ping.lng, 1]
    return True


def _is_jump(ts0: int, lat0: float, lng0: float, ping: Ping, ctx: EngineContext) -> bool:
    dy = (ping.lat - lat0) * M_PER_DEG
    dx = (ping.lng - lng0) * M_PER_DEG * ctx.cos_lat
    d2 = dx * dx + dy * dy
    th = ctx.th
    if d2 <= th.jump_min_m * th.jump_min_m:
        return False
    reach = th.max_jump_kmh * max(ping.ts - ts0, 1) / 3600.0  # metres at the maximum speed
    return d2 > reach * reach


def unreported_speed(p: Ping, limit_kmh: float) -> Ping:
    """``p`` without its reported speed, warned: a copy (the caller's ping is left as sent).

    Called when ``p.speed_kmh`` is not within ``0 .. limit_kmh`` (``max_reported_kmh``; NaN is
    not within it either). JT/T 808 terminals send 0xFFFF/10 = 6553.5 km/h for "speed unknown"
    and some send negative speeds; taken as reported, a truck standing still raised
    ``overspeed`` (issue 11 review). The engine then uses the speed implied by the track, as for
    a ping that reports none, and the warning (``field: what was wrong, got value``, as parsing
    writes them) travels with the ping into evidence and rejections.
    """
    warning = (
        f"speed_kmh: not a speed a vehicle reports (outside 0..{limit_kmh:g} km/h), "
        f"got {p.speed_kmh!r}"
    )
    return replace(p, speed_kmh=None, warnings=(*(p.warnings or ()), warning))


def coordinate_reason(lat: float, lng: float, ctx: EngineContext) -> str | None:
    """The first static coordinate filter that rejects (lat, lng), or None."""
    if filter_non_finite(lat, lng):
        return "filter_non_finite"
    if filter_swapped(lat, lng, ctx.area):
        return "filter_swapped"
    if filter_out_of_range(lat, lng):
        return "filter_out_of_range"
    if filter_zero(lat, lng, ctx.th.zero_deg):
        return "filter_zero"
    if filter_outside_area(lat, lng, ctx.area):
        return "filter_outside_area"
    return None


def static_reason(ping: Ping, ctx: EngineContext) -> str | None:
    """Reason to reject ``ping`` on its own (coordinates, absolute time, vehicle), or None."""
    lat, lng = ping.lat, ping.lng
    a = ctx.area
    # Fast path: inside the grown service area passes every coordinate filter at once
    # (NaN compares false, so it takes the slow path).
    if not (a[0] <= lat <= a[2] and a[1] <= lng <= a[3]):
        reason = coordinate_reason(lat, lng, ctx)
        if reason is not None:
            return reason
    if ping.ts < ctx.th.min_valid_ts:
        return "filter_too_old"
    if ping.vehicle not in ctx.vehicles:
        return "filter_unknown_vehicle"
    return None


def clock_reason(ts: int, ref: int, ctx: EngineContext) -> str | None:
    """Reason to reject event time ``ts`` against the reference (watermark or now), or None."""
    th = ctx.th
    if filter_future(ts, ref, th.future_ms):
        return "filter_future"
    if filter_too_old(ts, ref, th.min_valid_ts, th.max_age_ms):
        return "filter_too_old"
    return None


def rejection(
    ping: Ping,
    reason: str,
    detail: str = "",
    *,
    ctx: EngineContext | None = None,
    ref_ms: int | None = None,
    speed_kmh: float | None = None,
    distance_m: float | None = None,
) -> Event:
    """The rejection event for ``ping`` (for the dead-letter stream).

    Parameters
    ----------
    ping : Ping
        The rejected ping.
    reason : str
        Its reason code (one of :data:`REASONS`).
    detail : str
        The caller's words on the why, added after the offending value.
    ctx : EngineContext, optional
        Names the limits that applied (service area box, thresholds); without it the default
        thresholds are quoted.
    ref_ms : int, optional
        The time the ping was checked against (watermark, given now, or the live stream's
        position for ``stale``): the detail then says by how much it is off.
    speed_kmh, distance_m : float, optional
        For ``filter_impossible_jump``: implied speed and distance from the last accepted fix.

    Returns
    -------
    Event
        ``Event(EventKind.REJECTED, payload)``; ``payload`` keys: ``reason``, ``detail``
        (never empty: it names the offending value, issue 11), ``ref``, ``vehicle`` (the
        ping's vehicle id) and ``ping``.
    """
    facts = _Facts(ctx, ref_ms, speed_kmh, distance_m)
    own = _DETAILS.get(reason, _generic)(ping, facts)
    return Event(
        EventKind.REJECTED,
        {
            "reason": reason,
            "detail": f"{own}; {detail}" if detail else own,
            "ref": ping.ref,
            "vehicle": ping.vehicle,
            "ping": ping.to_dict(),
        },
    )


# Rejection details (issue 11: "rejections that don't say why"). Each names the offending value
# the way an officer reads it: coordinates as sent, times in ISO 8601 +08:00 with the epoch ms.

_DEFAULTS = Thresholds()


class _Facts:
    """What the caller knew about the check (all optional)."""

    __slots__ = ("ctx", "th", "ref_ms", "speed_kmh", "distance_m")

    def __init__(self, ctx, ref_ms, speed_kmh, distance_m):
        self.ctx = ctx
        self.th = ctx.th if ctx is not None else _DEFAULTS
        self.ref_ms = ref_ms
        self.speed_kmh = speed_kmh
        self.distance_m = distance_m


def _deg(x: float) -> str:
    return repr(round(x, 7)) if math.isfinite(x) else repr(x)


def _where(p: Ping) -> str:
    return f"lat {_deg(p.lat)}, lng {_deg(p.lng)}"


def _when(ms: int) -> str:
    """``2025-06-01T21:00:00+08:00 (1748782800000)``; the bare number when no calendar has it."""
    try:
        return f"{iso_ts(ms)} ({ms})"
    except (OverflowError, ValueError, OSError):
        return f"{ms} ms"


def _span(ms: int) -> str:
    """A duration as an officer reads it: ``2 d 3 h 5 min``, ``4 min 10 s``, ``850 ms``."""
    ms = abs(ms)
    if ms < 1000:
        return f"{ms} ms"
    s = ms // 1000
    d, s = divmod(s, 86_400)
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    parts = [f"{d} d" * bool(d), f"{h} h" * bool(h), f"{m} min" * bool(m)]
    if not d:
        parts.append(f"{s} s" * bool(s))
    return " ".join(x for x in parts if x) or f"{ms} ms"


def _non_finite(p: Ping, f: _Facts) -> str:
    return f"{_where(p)}: not a finite number, no fix"


def _swapped(p: Ping, f: _Facts) -> str:
    return f"{_where(p)}: swapped (swapped back it lies in the service area)"


def _out_of_range(p: Ping, f: _Facts) -> str:
    bad = []
    if not -90.0 <= p.lat <= 90.0:
        bad.append(f"lat {_deg(p.lat)} outside [-90, 90]")
    if not -180.0 <= p.lng <= 180.0:
        bad.append(f"lng {_deg(p.lng)} outside [-180, 180]")
    return f"{_where(p)}: " + (", ".join(bad) or "outside [-90, 90] x [-180, 180]")


def _zero(p: Ping, f: _Facts) -> str:
    return (
        f"({p.lat:.3f}, {p.lng:.3f}) is Null Island: no fix "
        f"(within {f.th.zero_deg}\N{DEGREE SIGN} of (0, 0))"
    )


def _outside_area(p: Ping, f: _Facts) -> str:
    if f.ctx is None:
        return f"{_where(p)}: outside the service area"
    a = f.ctx.area
    return (
        f"{_where(p)}: outside the service area (with its margin) "
        f"lat {a[0]:.3f}..{a[2]:.3f}, lng {a[1]:.3f}..{a[3]:.3f}"
    )


def _too_old(p: Ping, f: _Facts) -> str:
    ts, th = p.ts, f.th
    if looks_like_epoch_seconds(ts):  # the commonest terminal mistake, named as such
        return (
            f"ts {ts} looks like epoch seconds ({iso_ts(ts * 1000)} read as seconds); "
            f"ts must be epoch milliseconds"
        )
    if ts < th.min_valid_ts:
        return f"ts {_when(ts)} is before the earliest valid time {_when(th.min_valid_ts)}"
    limit = _span(th.max_age_ms)
    if f.ref_ms is None:  # the caller did not say which check fired: name both (issue 11)
        return (
            f"ts {_when(ts)} is too old: before the earliest valid time "
            f"{_when(th.min_valid_ts)}, or more than {limit} behind the time it was checked "
            f"against"
        )
    return f"ts {_when(ts)} is {_span(f.ref_ms - ts)} behind {_when(f.ref_ms)} (limit {limit})"


def _future(p: Ping, f: _Facts) -> str:
    ts, th = p.ts, f.th
    limit = _span(th.future_ms)
    if f.ref_ms is None:
        return f"ts {_when(ts)} is more than {limit} ahead of the stream's time"
    return f"ts {_when(ts)} is {_span(ts - f.ref_ms)} ahead of {_when(f.ref_ms)} (limit {limit})"


def _duplicate(p: Ping, f: _Facts) -> str:
    return f"ts {_when(p.ts)} of vehicle {p.vehicle!r} was already received (a re-send)"


def _jump(p: Ping, f: _Facts) -> str:
    head = f"{_where(p)} at {_when(p.ts)}"
    limit = f"limit {f.th.max_jump_kmh:g} km/h over {f.th.jump_min_m:g} m"
    if f.speed_kmh is None or f.distance_m is None:
        return f"{head}: too far from the last accepted fix for the time between ({limit})"
    return (
        f"{head}: implied {f.speed_kmh:.0f} km/h over {f.distance_m:.0f} m "
        f"from the last accepted fix ({limit})"
    )


def _unknown_vehicle(p: Ping, f: _Facts) -> str:
    return f"vehicle {p.vehicle!r} is not in the registry"


def _stale(p: Ping, f: _Facts) -> str:
    if f.ref_ms is None:
        return (
            f"ts {_when(p.ts)} arrived after the vehicle's live stream had moved past it "
            f"(reorder window {_span(f.th.reorder_ms)})"
        )
    return (
        f"ts {_when(p.ts)} is {_span(f.ref_ms - p.ts)} older than the vehicle's live stream "
        f"at {_when(f.ref_ms)} (reorder window {_span(f.th.reorder_ms)})"
    )


def _generic(p: Ping, f: _Facts) -> str:
    return f"vehicle {p.vehicle!r}, {_where(p)}, ts {_when(p.ts)}"


_DETAILS = {
    "filter_non_finite": _non_finite,
    "filter_swapped": _swapped,
    "filter_out_of_range": _out_of_range,
    "filter_zero": _zero,
    "filter_outside_area": _outside_area,
    "filter_too_old": _too_old,
    "filter_future": _future,
    "filter_duplicate": _duplicate,
    "filter_impossible_jump": _jump,
    "filter_unknown_vehicle": _unknown_vehicle,
    STALE: _stale,
}


REASONS = (
    "filter_non_finite",
    "filter_swapped",
    "filter_out_of_range",
    "filter_zero",
    "filter_outside_area",
    "filter_future",
    "filter_too_old",
    "filter_duplicate",
    "filter_impossible_jump",
    "filter_unknown_vehicle",
    STALE,
    BAD_JSON,
    BAD_FIELD,
)
