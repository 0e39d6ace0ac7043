"""The engine's default thresholds, as the simulator plans against them (issue 11).

The simulator may not import ``stream.engine`` (import-linter), yet its near-threshold cases
must sit just either side of the engine's defaults. The numbers live here, once;
``tests/sim/test_thresholds.py`` holds them equal to ``stream.engine.config.Thresholds()``.
Durations are int milliseconds, distances metres, speeds km/h (as in the engine).
"""

from __future__ import annotations

MINUTE = 60_000
HOUR = 60 * MINUTE

DWELL_MS = 3 * MINUTE  # load, unload, collection and delivery dwell
SLOW_KMH = 5.0  # stationary below this
MOVING_KMH = 10.0  # a dwell or stop ends at or above this
STOP_RADIUS_M = 60.0  # a stop ends farther than this from where it began
SUSPICIOUS_STOP_MS = 5 * MINUTE  # suspected_dumping: loaded stop outside every place
UNREGISTERED_STOP_MS = 3 * MINUTE  # unregistered_collection: kitchen/oil stop outside places
DEVIATION_M = 150.0  # route_deviation: metres outside every permit corridor...
DEVIATION_MS = 60_000  # ...for more than this
SIGNAL_LOST_MS = 10 * MINUTE  # signal_lost: no live ping for more than this during a trip
TRIP_DEADLINE_MS = 4 * HOUR  # unmatched_source: unload within this of leaving the site
ROUND_DEADLINE_MS = 6 * HOUR  # undelivered_collection: deliver within this of the collection
SPEED_LIMIT_KMH = {"muck": 60.0, "kitchen": 70.0, "oil": 70.0}  # where no fence sets one
OVERSPEED_MS = 30_000  # overspeed: over the limit sustained this long
UNCOVERED_MS = 30_000  # uncovered_load: loaded, moving, cover open this long
UNCOVERED_SPEED_KMH = 5.0  # "moving" for uncovered_load
COOLDOWN_MS = 10 * MINUTE  # per vehicle and type: an alert within this of another is suppressed
BACKFILL_LAG_MS = 2 * MINUTE  # an unflagged ping this much older than the stream is a backfill

ENGINE_NAMES = {
    "dwell_ms": DWELL_MS,
    "slow_kmh": SLOW_KMH,
    "moving_kmh": MOVING_KMH,
    "stop_radius_m": STOP_RADIUS_M,
    "suspicious_stop_ms": SUSPICIOUS_STOP_MS,
    "unregistered_stop_ms": UNREGISTERED_STOP_MS,
    "deviation_m": DEVIATION_M,
    "deviation_ms": DEVIATION_MS,
    "signal_lost_ms": SIGNAL_LOST_MS,
    "trip_deadline_ms": TRIP_DEADLINE_MS,
    "round_deadline_ms": ROUND_DEADLINE_MS,
    "speed_limit_kmh": SPEED_LIMIT_KMH,
    "overspeed_ms": OVERSPEED_MS,
    "uncovered_ms": UNCOVERED_MS,
    "uncovered_speed_kmh": UNCOVERED_SPEED_KMH,
    "cooldown_ms": COOLDOWN_MS,
    "backfill_lag_ms": BACKFILL_LAG_MS,
}
"""The engine's ``Thresholds`` field name of every number above."""
