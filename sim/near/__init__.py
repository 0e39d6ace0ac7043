"""Near-threshold cases (issue 11): just above a threshold is a truth, just below is none.

Every other trick injects a violation "clearly beyond" its threshold; these sit a few seconds
or km/h either side of the engine's defaults (``sim.thresholds``), so that loosening a threshold
loses recall and tightening it costs precision. The pings the engine sees are timed exactly
(``Itinerary.report``: every 5 s, one exactly at the start and at the end of the case), so the
observed duration is the planned one to within 5 s; the margins below are larger than that.

Muck trucks (each on a corridor, loaded, away from every place and zone):

- ``near_stop_long`` / ``near_stop_short``: a loaded stop of suspicious_stop + 20 s (truth
  ``suspected_dumping`` [stop start]) / − 20 s (episode, no truth).
- ``near_silent_long`` / ``near_silent_short``: no ping for signal_lost + 30 s (truth
  ``signal_lost`` [last ping before the gap]) / − 30 s (episode).
- ``near_overspeed_long`` / ``near_overspeed_short``: limit + 15 km/h for overspeed + 10 s
  (truth ``overspeed`` [first fast ping]) / − 10 s (episode).
- ``near_limit_above`` / ``near_limit_below``: 60 s at the limit + 5 km/h (truth) / − 5 km/h
  (episode), on a corridor with no limit of its own (the engine's default for muck applies) and
  no other corridor with a lower limit near.
- ``near_uncovered_long`` / ``near_uncovered_short``: cover open while moving loaded for
  uncovered + 10 s (truth ``uncovered_load``) / − 10 s (episode).
- ``near_cooldown_apart`` / ``near_cooldown_within``: two 40-s bursts at limit + 15 whose starts
  are cooldown + 1 min apart (two ``overspeed`` truths) / cooldown − 1 min apart (one truth, the
  second burst an episode).

- ``near_deviation_far`` / ``near_deviation_close``: loaded, a 1.2-1.8 km detour parallel to
  the corridor at deviation_m + 50 m outside it, beyond the tolerance for 2+ min (truth
  ``route_deviation`` [first ping beyond]) / at deviation_m − 50 m (episode).

Kitchen and oil vehicles: ``near_round_late`` / ``near_round_early``: after its collections the
vehicle parks at its depot (a known place: no stop or signal alert), then drives to its plant so
that the delivery dwell starts 5 min after (truth ``undelivered_collection`` [start of the first
collection]) / 5 min before (episode) the round deadline. ``near_unregistered_long`` /
``near_unregistered_short``: a stop at a restaurant on no contract of unregistered_stop + 20 s
(truth ``unregistered_collection``) / − 20 s (episode).

Not expressed: the muck trip deadline (a loaded truck has nowhere to wait hours that the engine
would not judge first: off the corridor is a deviation, on it a suspicious stop) and
deviation_ms (left for a later round).

The cases by family: ``stopping`` (stops, silences), ``speed`` (overspeed, limit, cooldown),
``cover``, ``deviation``, ``kitchen``; what they share (report interval, margins, truth or
episode): ``case``. This module is their catalogue: ``MUCK_NEAR``, ``KITCHEN_NEAR``.
"""

from __future__ import annotations

from sim.near.cover import NearUncoveredLong, NearUncoveredShort
from sim.near.deviation import NearDeviationClose, NearDeviationFar
from sim.near.kitchen import (
    NearRoundEarly,
    NearRoundLate,
    NearUnregisteredLong,
    NearUnregisteredShort,
)
from sim.near.speed import (
    NearCooldownApart,
    NearCooldownWithin,
    NearLimitAbove,
    NearLimitBelow,
    NearOverspeedLong,
    NearOverspeedShort,
)
from sim.near.stopping import NearSilentLong, NearSilentShort, NearStopLong, NearStopShort

MUCK_NEAR = (
    NearStopLong,
    NearStopShort,
    NearSilentLong,
    NearSilentShort,
    NearOverspeedLong,
    NearOverspeedShort,
    NearLimitAbove,
    NearLimitBelow,
    NearUncoveredLong,
    NearUncoveredShort,
    NearCooldownApart,
    NearCooldownWithin,
    NearDeviationFar,
    NearDeviationClose,
)
KITCHEN_NEAR = (NearUnregisteredLong, NearUnregisteredShort, NearRoundLate, NearRoundEarly)
