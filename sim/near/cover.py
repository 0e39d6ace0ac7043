"""Near-threshold open covers of loaded muck trucks (issue 11): ``near_uncovered_long`` /
``near_uncovered_short`` around the uncovered time."""

from __future__ import annotations

from sim import thresholds as T
from sim.geo import cumulative
from sim.near.case import SUSTAIN_MARGIN_MS, NearCase
from sim.tricks import Infeasible, protect


class _NearUncovered(NearCase):
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
