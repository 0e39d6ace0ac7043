"""Engine settings: every threshold the rules use, typed, documented and defaulted.

Defaults follow the shared brief (docs/formats.md, "Violation semantics") and the platform norms
collected in research/mission_anchors.md (Traccar filter set, 3-minute dwell, 10-minute cooldown).
Durations are int milliseconds, distances metres, speeds km/h. :meth:`Thresholds.from_mapping`
overrides any subset with validation; unknown keys are an error, not silently ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

MINUTE = 60_000
HOUR = 60 * MINUTE

DEFAULT_SEVERITY = {
    "unmatched_source": "critical",
    "suspected_dumping": "critical",
    "unmatched_disposal": "high",
    "unapproved_terminal": "high",
    "unpermitted_load": "high",
    "signal_lost": "high",
    "undelivered_collection": "high",
    "unsourced_delivery": "high",
    "route_deviation": "medium",
    "restricted_zone": "medium",
    "overspeed": "medium",
    "uncovered_load": "medium",
    "unregistered_collection": "medium",
}
ALERT_TYPES = tuple(sorted(DEFAULT_SEVERITY))


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Every setting of the detection engine.

    Attributes
    ----------
    reorder_ms : int
        Per-vehicle reorder window: pings are held this long (in the vehicle's event time) so that
        slightly out-of-order arrivals are applied in order.
    backfill_lag_ms : int
        An unflagged ping this much older than the vehicle's live stream is treated as a
        blind-area backfill; one that is older than the window but less than this is ``stale``.
    crossing_gap_ms : int
        Segment crossing (``restricted_zone`` between sparse pings) joins two consecutive pings
        of one track only when they are at most this far apart in event time; over a longer
        gap the straight line says nothing about where the vehicle went.
    future_ms : int
        ``filter_future``: reject a ping more than this after its ``received`` stamp (or the
        given now); without either, hold a ping more than this after its vehicle's newest
        accepted time (never another vehicle's, issue 11; see ``stream.engine.driver``).
    future_quorum : int
        A held ping is admitted once this many distinct event times of its vehicle (the held
        ping and its later held pings at most ``future_ms`` before it) agree that the vehicle's
        time has moved on — a vehicle quiet for a while, not a broken clock. Fleet-wide, the
        watermark jumps more than ``future_ms`` only when this many vehicles have.
    future_hold : int
        Pings of its own vehicle a held ping may wait before it is rejected (``filter_future``).
    min_valid_ts : int
        ``filter_too_old``: reject event times before this (2000-01-01T00:00Z, clock resets).
    max_age_ms : int
        ``filter_too_old``: reject event times this much older than the ``received`` stamp or,
        without one, the vehicle's newest accepted time (GPS week rollover puts clocks 1024
        weeks back; blind-area batches are hours old, not days).
    service_area : tuple of float
        ``(min_lat, min_lng, max_lat, max_lng)`` of the service area (default: Wuxi).
    outside_margin_km : float
        ``filter_outside_area``: reject pings farther than this outside ``service_area``.
    zero_deg : float
        ``filter_zero``: reject fixes within this many degrees of (0, 0) (about 1 km).
    max_jump_kmh : float
        ``filter_impossible_jump``: implied speed from the last accepted ping above this...
    jump_min_m : float
        ...when the jump is also longer than this (GPS noise over a few seconds is not a jump).
    jump_reanchor : int
        After this many consecutive mutually consistent "jumps", trust the new position (the
        last accepted fix was the bad one).
    max_reported_kmh : float
        A reported ``speed_kmh`` above this or below 0 is no speed a vehicle drives (JT/T 808
        terminals send 6553.5, 0xFFFF/10, for "unknown"): it is ignored, the speed implied by
        the track is used as when none is reported, and the ping carries a warning (issue 11
        review: a truck standing still reporting 6553.5 raised ``overspeed``).
    slow_kmh : float
        A ping is stationary below this speed (dwell and stop start).
    moving_kmh : float
        A dwell or stop ends at or above this speed (hysteresis against speed noise).
    stop_radius_m : float
        A stop ends when the vehicle is farther than this from where it stopped.
    exit_hold_ms : int
        Fence exit hysteresis: an exit is confirmed only after the vehicle has been outside for
        this long over at least two pings; re-entry before that cancels it (no flapping).
    gate_drift_m : float
        GPS drift at a gate (issue 11): a slow fix within this of the boundary of a terminal or
        transfer point the vehicle is visiting still counts as there (its visit and dwell go
        on), and the tipper raised there is an unload.
    queue_reach_m : float
        A loaded stop within this of a terminal or transfer point the trip may unload at is a
        queue at its gate, not ``suspected_dumping`` (unless the tipper is raised there).
    dwell_ms : int
        Load, unload, collection and delivery dwell: this long at < ``slow_kmh`` inside the fence.
    visit_merge_ms : int
        Two dwells at the same fence this close in time are one visit (live and backfill views).
    stop_report_ms : int
        Stops at least this long are reported as stop events.
    suspicious_stop_ms : int
        ``suspected_dumping``: a loaded stop this long outside every known place.
    unregistered_stop_ms : int
        ``unregistered_collection``: a kitchen/oil stop this long outside producers/plants/depots.
    deviation_m, deviation_ms : float, int
        ``route_deviation``: loaded, farther than ``deviation_m`` from every permit corridor for
        more than ``deviation_ms``.
    signal_lost_ms : int
        ``signal_lost``: no live ping for more than this during a trip (or a kitchen round).
    trip_deadline_ms : int
        ``unmatched_source``: a trip must unload within this time of leaving the site.
    round_deadline_ms : int
        ``undelivered_collection``: a round must be delivered within this of its first collection.
    trip_expiry_ms : int
        An overdue trip or round is dropped (no longer matched to unloads) after this.
    speed_limit_kmh : dict
        Default limit per vehicle kind where no fence sets one.
    overspeed_ms : int
        ``overspeed``: over the limit sustained this long.
    uncovered_ms : int
        ``uncovered_load``: loaded, moving, cover open, sustained this long.
    uncovered_speed_kmh : float
        "Moving" for ``uncovered_load``.
    cooldown_ms : int
        Per vehicle and alert type: an alert starting within this of another is suppressed.
    signal_lost_kinds : tuple of str
        Vehicle kinds ``signal_lost`` watches (muck trips; kitchen/oil rounds).
    collection_radius_m : float
        Kitchen/oil vehicles: a stop is a stop in one place (issue 11): it ends when the vehicle
        is farther than this from where it stopped (``stop_radius_m`` for muck trucks). A
        vehicle standing with GPS jitter of 5-15 m stays within it; one creeping in a jam
        leaves it and its stop starts over, so ``unregistered_stop_ms`` is not reached. The
        distance is measured from the stop's anchor, the mean of its first
        ``stops.ANCHOR_FIXES`` fixes, not from its first fix alone (one jittered fix must not
        set where the stop is).
    collection_drift_m : float
        Kitchen/oil vehicles: a stop in one place also shows no steady progress (issue 11: a
        jam creeping 44-48 m in 3 min measured 39 m from its jittered first fix). The stop
        ends when a running average of its latest fixes is farther than this from its anchor
        (below ``collection_radius_m``: averages are steadier than single fixes). A standing
        vehicle's averages stay within about 25 m of each other even with single fixes 15 m
        off; a jam's, 44-48 m crept, do not; a vehicle inching 35 m evenly in 3 min 10 s
        (about 31 m averaged at the 3-minute mark) is still a stop.
    dock_reach_m : float
        ``signal_lost`` in a registered place (a basement loading dock, a shed; issue 11): a
        gap whose last fix is inside, or within this of the boundary of, a registered place
        (site, transfer, terminal, producer or plant; the ramp down to a dock lies outside a
        producer's small circle) and whose first fix after it is within this of the same place
        is not ``signal_lost``, and a stop across such a gap is a stop at that place.
    dock_wait_ms : int
        The bound of that exception: a gap that began at a registered place is decided when
        the vehicle is seen again; one longer than this (never ended, or ended anywhere) is
        ``signal_lost``, dated at the last fix, raised once the watermark passes the bound.
    tick_ms : int
        The batch driver ticks time-driven rules whenever the watermark crosses a multiple of this.
    batch_size : int
        Micro-batch size of the batch driver (one ``match_many`` call per batch).
    evidence_pings : int
        Recent pings kept per vehicle for alert evidence.
    severity : dict
        Severity per alert type.
    """

    reorder_ms: int = 5_000
    backfill_lag_ms: int = 2 * MINUTE
    crossing_gap_ms: int = 5 * MINUTE
    future_ms: int = 5 * MINUTE
    future_quorum: int = 2
    future_hold: int = 20
    min_valid_ts: int = 946_684_800_000
    max_age_ms: int = 7 * 24 * HOUR
    service_area: tuple[float, float, float, float] = (31.05, 119.50, 32.05, 120.65)
    outside_margin_km: float = 50.0
    zero_deg: float = 0.01
    max_jump_kmh: float = 150.0
    jump_min_m: float = 300.0
    jump_reanchor: int = 3
    max_reported_kmh: float = 250.0
    slow_kmh: float = 5.0
    moving_kmh: float = 10.0
    stop_radius_m: float = 60.0
    exit_hold_ms: int = 20_000
    gate_drift_m: float = 30.0
    queue_reach_m: float = 200.0
    dwell_ms: int = 3 * MINUTE
    visit_merge_ms: int = 10 * MINUTE
    stop_report_ms: int = 3 * MINUTE
    suspicious_stop_ms: int = 5 * MINUTE
    unregistered_stop_ms: int = 3 * MINUTE
    deviation_m: float = 150.0
    deviation_ms: int = 60_000
    signal_lost_ms: int = 10 * MINUTE
    trip_deadline_ms: int = 4 * HOUR
    round_deadline_ms: int = 6 * HOUR
    trip_expiry_ms: int = 12 * HOUR
    speed_limit_kmh: Mapping[str, float] = field(
        default_factory=lambda: {"muck": 60.0, "kitchen": 70.0, "oil": 70.0}
    )
    overspeed_ms: int = 30_000
    uncovered_ms: int = 30_000
    uncovered_speed_kmh: float = 5.0
    cooldown_ms: int = 10 * MINUTE
    signal_lost_kinds: tuple[str, ...] = ("muck", "kitchen", "oil")
    # Kitchen/oil and signal-lost rules (issue 11).
    collection_radius_m: float = 40.0
    collection_drift_m: float = 32.0
    dock_reach_m: float = 100.0
    dock_wait_ms: int = HOUR
    tick_ms: int = MINUTE
    batch_size: int = 4096
    evidence_pings: int = 8
    severity: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_SEVERITY))

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, int | float) and not isinstance(value, bool) and value < 0:
                raise ValueError(f"threshold {f.name} must not be negative, got {value!r}")
        if self.batch_size < 1 or self.tick_ms < 1:
            raise ValueError("batch_size and tick_ms must be positive")
        unknown = sorted(set(self.severity) - set(DEFAULT_SEVERITY))
        if unknown:
            raise ValueError(f"severity for unknown alert types {unknown}")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Thresholds:
        """Defaults overridden by ``data``; raises ValueError naming unknown or mistyped keys."""
        base = cls()
        names = {f.name: f for f in fields(cls)}
        unknown = sorted(set(data) - set(names))
        if unknown:
            raise ValueError(f"unknown threshold keys {unknown}")
        changes: dict[str, Any] = {}
        for key, value in data.items():
            current = getattr(base, key)
            if isinstance(current, bool) or isinstance(value, bool):
                if not (isinstance(current, bool) and isinstance(value, bool)):
                    raise ValueError(f"threshold {key}: expected a number, got {value!r}")
            elif isinstance(current, int):
                if not isinstance(value, int):
                    raise ValueError(f"threshold {key}: expected an integer, got {value!r}")
            elif isinstance(current, float):
                if not isinstance(value, int | float):
                    raise ValueError(f"threshold {key}: expected a number, got {value!r}")
                value = float(value)
            elif isinstance(current, tuple):
                value = tuple(value)
            elif isinstance(current, Mapping):
                value = {**current, **value}
            changes[key] = value
        return replace(base, **changes)

    def to_dict(self) -> dict[str, Any]:
        """All settings as plain JSON-ready data."""
        out = asdict(self)
        out["service_area"] = list(self.service_area)
        out["signal_lost_kinds"] = list(self.signal_lost_kinds)
        return out
