"""Near-threshold speeding of muck trucks (issue 11): ``near_overspeed_*`` around the sustain
time, ``near_limit_*`` around the default limit, ``near_cooldown_*`` around the alert cooldown."""

from __future__ import annotations

import numpy as np
import shapely

from sim import thresholds as T
from sim.geo import cumulative, cut
from sim.near.case import (
    EVERY_S,
    FAST_OVER_KMH,
    LIMIT_MARGIN_KMH,
    SEC,
    SUSTAIN_MARGIN_MS,
    NearCase,
    settle,
)
from sim.oracle import Expect, first_at
from sim.tricks import Infeasible, protect


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


class _NearSpeed(NearCase):
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
            settle(day, self.name, k < self.truths, truth, t0, t1)


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
