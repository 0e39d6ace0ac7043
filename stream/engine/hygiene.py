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

from stream.engine.context import M_PER_DEG, EngineContext
from stream.engine.state import Track
from stream.ping import Ping

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


def rejection(ping: Ping, reason: str, detail: str = "") -> tuple[str, dict]:
    """The rejection event for ``ping`` (for the dead-letter stream)."""
    return (
        "rejected",
        {"reason": reason, "detail": detail, "ref": ping.ref, "ping": ping.to_dict()},
    )


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
