"""Near-threshold detours of loaded muck trucks (issue 11): ``near_deviation_far`` /
``near_deviation_close``, a detour parallel to the corridor just beyond / just inside the
deviation tolerance."""

from __future__ import annotations

import numpy as np

from sim import oracle
from sim import thresholds as T
from sim.geo import cumulative, parallel_detour
from sim.near.case import episode
from sim.oracle import Expect, first_breaking
from sim.tricks import Infeasible, OneTrip, clear_detour, protect, rest_of_haul


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
            episode(day, self.name, t0, t1, note)
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
