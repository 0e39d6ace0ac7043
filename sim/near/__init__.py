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
"""

from __future__ import annotations

import numpy as np
import shapely

from sim import oracle
from sim import thresholds as T
from sim.collection import UnregisteredStop
from sim.geo import cumulative, cut, parallel_detour
from sim.normal import Episode
from sim.oracle import Expect, first_at, first_breaking, last_live_before
from sim.track import DARK
from sim.tricks import (
    Infeasible,
    OneTrip,
    Trick,
    check_gap_chord,
    clear_detour,
    deadline_fits,
    protect,
    rest_of_haul,
    spot_along,
)

SEC = 1000
EVERY_S = 5  # report interval inside a near-threshold case
STOP_MARGIN_MS = 20 * SEC
SILENT_MARGIN_MS = 30 * SEC
SUSTAIN_MARGIN_MS = 10 * SEC
LIMIT_MARGIN_KMH = 5.0
FAST_OVER_KMH = 15.0


def _episode(day, name: str, t0: int, t1: int, note: str) -> None:
    day.episodes.append(Episode(name, day.v.id, t0 - 2 * 60_000, t1 + 10 * 60_000, note))


def _settle(day, name: str, beyond: bool, truth: Expect, t0: int, t1: int) -> None:
    """A case beyond its threshold is ``truth``; one short of it, an episode over [t0, t1]
    with the same note (issue 11: just above is a truth, just below is none)."""
    if beyond:
        day.expects.append(truth)
    else:
        _episode(day, name, t0, t1, truth.note)


class _Near(OneTrip):
    """One near-threshold case on a loaded haul: above (a truth) or below (an episode)."""

    above = True
    code = ""  # the violation the case is near (its truth's type)

    def trip(self, day, dwell: int) -> None:
        day.load(dwell)
        corridor = day.pick_corridor()
        day.stops = False  # no traffic stop next to the case
        marks: dict = {}
        events = self.events(day, corridor, marks)
        day.haul(corridor, events)
        day.stops = True
        self.finish(day, corridor, marks)
        day.unload(day.w.places[corridor.terminal])
        self.fulfilled = True

    def events(self, day, corridor, marks) -> list:
        raise NotImplementedError

    def finish(self, day, corridor, marks) -> None:
        """A case that holds from ``marks["t0"]`` to ``marks["t1"]``, reported every EVERY_S:
        its truth (or episode) anchored at the first ping of the case."""
        t0, t1 = marks["t0"], marks["t1"]
        day.it.report(t0, t1, EVERY_S)
        truth = Expect(self.code, first_at(t0), self.note(corridor, t1 - t0))
        _settle(day, self.name, self.above, truth, t0, t1)

    def note(self, corridor, ms: int) -> str:
        raise NotImplementedError


class _NearStop(_Near):
    types = ("suspected_dumping",)
    code = "suspected_dumping"

    def events(self, day, corridor, marks):
        s = spot_along(day, corridor.path, 0.3, 0.7)
        if s is None:
            raise Infeasible("no stop spot away from places")
        margin = STOP_MARGIN_MS if self.above else -STOP_MARGIN_MS

        def stop(d):
            protect(d, True)
            marks["t0"] = d.it.t
            d.it.stay(T.SUSPICIOUS_STOP_MS + margin)
            marks["t1"] = d.it.t

        def resume(d):
            protect(d, False)

        return [(s, stop), (s + 200.0, resume)]

    def note(self, corridor, ms):
        return f"loaded stop of {ms / 1000:.0f} s on {corridor.id}, outside every place"


class NearStopLong(_NearStop):
    name = "near_stop_long"


class NearStopShort(_NearStop):
    name = "near_stop_short"
    types = ()
    above = False


class _NearSilent(_Near):
    types = ("signal_lost",)

    def events(self, day, corridor, marks):
        total = float(cumulative(corridor.path)[-1])
        s_a = spot_along(day, corridor.path, 0.15, 0.3)
        if s_a is None or total < s_a + 2500:
            raise Infeasible("corridor too short for a silent stretch")
        # The last live ping is EVERY_S before t_a: the gap is t_b - t_a + EVERY_S.
        margin = SILENT_MARGIN_MS if self.above else -SILENT_MARGIN_MS
        gap = T.SIGNAL_LOST_MS + margin - EVERY_S * SEC

        def go_silent(d):
            protect(d, True)
            marks["t_a"] = d.it.t

        def hide(d):
            d.it.stay(marks["t_a"] + gap - d.it.t)
            marks["t_b"] = d.it.t

        def resume(d):
            protect(d, False)

        return [(s_a, go_silent), (s_a + 1500.0, hide), (s_a + 1900.0, resume)]

    def finish(self, day, corridor, marks):
        t_a, t_b = marks["t_a"], marks["t_b"]
        check_gap_chord(day, t_a, t_b)
        day.it.report(t_a - 60 * SEC, t_a, EVERY_S)
        day.it.report(t_b, t_b + 30 * SEC, EVERY_S)
        day.it.relink(t_a, t_b, DARK)
        gap_s = (t_b - t_a) / 1000 + EVERY_S
        note = f"no ping for {gap_s:.0f} s on {corridor.id} while loaded"
        truth = Expect("signal_lost", last_live_before(t_a), note)
        _settle(day, self.name, self.above, truth, t_a, t_b)


class NearSilentLong(_NearSilent):
    name = "near_silent_long"


class NearSilentShort(_NearSilent):
    name = "near_silent_short"
    types = ()
    above = False


def corridor_limit(day, corridor, path: np.ndarray) -> float | None:
    """The speed limit the engine applies along ``path`` on ``corridor`` (its own or the
    default), or None when another corridor with a different limit is near."""
    own = corridor.speed_limit_kmh or T.SPEED_LIMIT_KMH[day.v.kind]
    pts = shapely.points(path)
    for c in day.w.corridors.values():
        if c.id == corridor.id or c.speed_limit_kmh is None or c.speed_limit_kmh >= own:
            continue
        line = shapely.LineString(c.path)
        if float(shapely.distance(line, pts).min()) <= c.buffer_m + 30.0:
            return None
    return own


class _NearSpeed(_Near):
    """Bursts of speed at ``speed(limit)`` for ``ms`` each, starting ``apart`` ms apart."""

    types = ("overspeed",)
    bursts = 1
    truths = 1
    default_limit = False  # only where the engine's default limit applies (no corridor limit)

    def burst(self, limit: float) -> tuple[float, int]:
        raise NotImplementedError

    def apart_ms(self) -> int:
        return 0

    def events(self, day, corridor, marks):
        path = corridor.path
        cum = cumulative(path)
        total = float(cum[-1])
        cruise = day.speed = self.rng.uniform(24, 32)
        apart = self.apart_ms()
        need = self.bursts * 1500.0 + cruise / 3.6 * apart / 1000 + 1000.0  # generous
        if total < need + 0.15 * total:
            raise Infeasible("corridor too short for the speed case")
        s1 = self.rng.uniform(0.1 * total, total - need)
        limit = corridor_limit(day, corridor, cut(path, cum, s1, s1 + need))
        if self.default_limit and corridor.speed_limit_kmh is not None:
            raise Infeasible("the corridor sets its own limit")
        if limit is None:
            raise Infeasible("another corridor's limit applies nearby")
        v, ms = self.burst(limit)
        length = v / 3.6 * ms / 1000
        marks.update(limit=limit, v=v, starts=[], ends=[])
        events = []
        s = s1
        for _ in range(self.bursts):  # each burst starts ``apart`` after the one before
            events += [(s, self._fast(marks, v)), (s + length, self._slow(marks, cruise))]
            s += length + cruise / 3.6 * (apart - ms) / 1000
        return events

    @staticmethod
    def _fast(marks, v):
        def fast(d):
            protect(d, True)
            marks["starts"].append(d.it.t)
            d.speed = v

        return fast

    @staticmethod
    def _slow(marks, cruise):
        def slow(d):
            marks["ends"].append(d.it.t)
            d.speed = cruise
            protect(d, False)

        return slow

    def finish(self, day, corridor, marks):
        for k, (t0, t1) in enumerate(zip(marks["starts"], marks["ends"], strict=True)):
            day.it.report(t0, t1, EVERY_S)
            note = (f"{marks['v']:.0f} km/h for {(t1 - t0) / 1000:.0f} s on {corridor.id} "
                    f"(limit {marks['limit']:.0f})")  # fmt: skip
            truth = Expect("overspeed", first_at(t0), note)
            _settle(day, self.name, k < self.truths, truth, t0, t1)


class NearOverspeedLong(_NearSpeed):
    name = "near_overspeed_long"

    def burst(self, limit):
        return limit + FAST_OVER_KMH, T.OVERSPEED_MS + SUSTAIN_MARGIN_MS


class NearOverspeedShort(_NearSpeed):
    name = "near_overspeed_short"
    types = ()
    truths = 0

    def burst(self, limit):
        return limit + FAST_OVER_KMH, T.OVERSPEED_MS - SUSTAIN_MARGIN_MS


class NearLimitAbove(_NearSpeed):
    name = "near_limit_above"
    default_limit = True

    def burst(self, limit):
        return limit + LIMIT_MARGIN_KMH, 60 * SEC


class NearLimitBelow(_NearSpeed):
    name = "near_limit_below"
    default_limit = True
    types = ()
    truths = 0

    def burst(self, limit):
        return limit - LIMIT_MARGIN_KMH, 60 * SEC


class NearCooldownApart(_NearSpeed):
    name = "near_cooldown_apart"
    bursts = 2
    truths = 2

    def burst(self, limit):
        return limit + FAST_OVER_KMH, T.OVERSPEED_MS + SUSTAIN_MARGIN_MS

    def apart_ms(self):
        return T.COOLDOWN_MS + 60 * SEC


class NearCooldownWithin(NearCooldownApart):
    name = "near_cooldown_within"
    truths = 1

    def apart_ms(self):
        return T.COOLDOWN_MS - 60 * SEC


class _NearUncovered(_Near):
    types = ("uncovered_load",)
    code = "uncovered_load"
    needs_sensors = True

    def events(self, day, corridor, marks):
        total = float(cumulative(corridor.path)[-1])
        margin = SUSTAIN_MARGIN_MS if self.above else -SUSTAIN_MARGIN_MS
        ms = T.UNCOVERED_MS + margin
        v = self.rng.uniform(24, 34)  # haul() draws its own cruise: the case sets this one
        stretch = v / 3.6 * ms / 1000
        if total < stretch + 2000:
            raise Infeasible("corridor too short")
        s1 = self.rng.uniform(0.15 * total, total - stretch - 1000)

        def open_cover(d):
            protect(d, True)
            marks["t0"] = d.it.t
            d.speed = v
            d.it.set(cover=True)

        def close_cover(d):
            marks["t1"] = d.it.t
            d.it.set(cover=False)
            protect(d, False)

        return [(s1, open_cover), (s1 + stretch, close_cover)]

    def note(self, corridor, ms):
        return f"cover open {ms / 1000:.0f} s while loaded on {corridor.id}"


class NearUncoveredLong(_NearUncovered):
    name = "near_uncovered_long"


class NearUncoveredShort(_NearUncovered):
    name = "near_uncovered_short"
    types = ()
    above = False


class _NearDeviation(OneTrip):
    """A detour parallel to the corridor just beyond / just inside the deviation tolerance."""

    types = ("route_deviation",)
    above = True

    def trip(self, day, dwell: int) -> None:
        day.load(dwell)
        corridor = day.pick_corridor()
        path = corridor.path
        cum = cumulative(path)
        total = float(cum[-1])
        day.speed = self.rng.uniform(24, 32)
        margin = 50.0 if self.above else -50.0
        offset = corridor.buffer_m + T.DEVIATION_M + margin
        for _ in range(12):
            s1 = self.rng.uniform(0.2, 0.5) * total
            s2 = s1 + self.rng.uniform(1200, 1800)
            if s2 > 0.85 * total:
                continue
            side = self.rng.choice((-1.0, 1.0))
            detour = parallel_detour(path, cum, s1, s2, side, offset)
            if self._clean(day, detour):
                break
        else:
            raise Infeasible("no clean near-threshold detour along this corridor")
        rest = rest_of_haul(day, corridor, cum, s2)
        marks = {}

        def stray(d):
            protect(d, True)
            marks["t0"] = d.it.t
            d.it.drive(detour, d.speed, stops=False)
            marks["t1"] = d.it.t
            protect(d, False)
            d.it.drive(rest, d.speed)
            return False

        day.corridor = corridor
        day.follow(path, [(s1, stray)])
        day.unload(day.w.places[corridor.terminal])
        t0, t1 = marks["t0"], marks["t1"]
        note = f"detour {offset - corridor.buffer_m:.0f} m outside {corridor.id}"
        if self.above:
            breaks = oracle.deviation_test(day.w, day.permit)
            anchor = first_breaking(breaks, t0, t1)
            day.expects.append(Expect("route_deviation", anchor, note, 3 * 60_000, 5 * 60_000))
        else:
            _episode(day, self.name, t0, t1, note)
        self.fulfilled = True

    def _clean(self, day, detour) -> bool:
        """Clear of places and zones; beyond the tolerance by 40-65 m for 2+ min in one run
        (above) or nowhere within 35 m of it (below), GPS jitter (10 m) included."""
        if not clear_detour(day, detour):
            return False
        d = oracle.outside_distance(day.w, day.permit, detour)
        if not self.above:
            return float(d.max()) <= T.DEVIATION_M - 35.0
        over = np.flatnonzero(d > T.DEVIATION_M)
        if not len(over) or over[-1] - over[0] + 1 != len(over):
            return False
        seconds = len(over) * 10.0 / (day.speed / 3.6)
        inner = d[over]
        return (seconds >= 120 and float(np.median(inner)) >= T.DEVIATION_M + 40.0
                and float(inner.max()) <= T.DEVIATION_M + 65.0)  # fmt: skip


class NearDeviationFar(_NearDeviation):
    name = "near_deviation_far"


class NearDeviationClose(_NearDeviation):
    name = "near_deviation_close"
    types = ()
    above = False


class _NearRound(Trick):
    """A round delivered just after / just before the round deadline."""

    types = ("undelivered_collection",)
    kinds = ("kitchen", "oil")
    late = True

    def takes_trip(self, day) -> bool:
        return not self.fulfilled and deadline_fits(day, 40 * 60_000, T.ROUND_DEADLINE_MS)

    def trip(self, day, stops) -> None:
        first = None
        for producer in stops:
            t0 = day.collect(producer)
            first = t0 if first is None else first
        day.go_depot()
        margin = 5 * 60_000 if self.late else -5 * 60_000
        target = first + T.ROUND_DEADLINE_MS + margin
        path = day.path_to(day.plant)
        speed = day.speed()
        travel = int(round(float(cumulative(path)[-1]) / (speed / 3.6) * 1000))
        if target - travel < day.it.t + 10 * 60_000:
            raise Infeasible("no time to park before the delivery")
        day.it.park_until(target - travel)
        protect(day, True)
        day.it.drive(path, speed, stops=False)
        t_d = day.it.t
        day.it.stay(self.rng.randint(10 * 60, 20 * 60) * SEC)
        day.it.job = False
        protect(day, False)
        day.go_depot()
        late = (t_d - first - T.ROUND_DEADLINE_MS) / 60_000
        note = f"round delivered to {day.plant.id} {late:+.1f} min from its deadline"
        truth = Expect("undelivered_collection", first_at(first), note)
        _settle(day, self.name, self.late, truth, first, t_d)
        day.done = True
        self.fulfilled = True


class NearRoundLate(_NearRound):
    name = "near_round_late"


class NearRoundEarly(_NearRound):
    name = "near_round_early"
    types = ()
    late = False


class _NearUnregistered(UnregisteredStop):
    """A stop at a restaurant on no contract just over / under unregistered_stop."""

    above = True

    def trip(self, day, stops) -> None:
        self.pull_in(day, stops)
        protect(day, True)
        t0 = day.it.t
        margin = STOP_MARGIN_MS if self.above else -STOP_MARGIN_MS
        day.it.stay(T.UNREGISTERED_STOP_MS + margin)
        t1 = day.it.t
        protect(day, False)
        for producer in stops[1:]:
            day.collect(producer)
        day.deliver()
        day.it.report(t0, t1, EVERY_S)
        note = f"stop of {(t1 - t0) / 1000:.0f} s at a restaurant on no contract"
        truth = Expect("unregistered_collection", first_at(t0), note)
        _settle(day, self.name, self.above, truth, t0, t1)
        self.fulfilled = True


class NearUnregisteredLong(_NearUnregistered):
    name = "near_unregistered_long"


class NearUnregisteredShort(_NearUnregistered):
    name = "near_unregistered_short"
    types = ()
    above = False


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
