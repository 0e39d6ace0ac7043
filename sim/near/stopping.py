"""Near-threshold loaded stops and silences of muck trucks (issue 11): ``near_stop_long`` /
``near_stop_short`` around suspicious_stop, ``near_silent_long`` / ``near_silent_short`` around
signal_lost."""

from __future__ import annotations

from sim import thresholds as T
from sim.geo import cumulative
from sim.near.case import EVERY_S, SEC, SILENT_MARGIN_MS, STOP_MARGIN_MS, NearCase, settle
from sim.oracle import Expect, last_live_before
from sim.track import DARK
from sim.tricks import Infeasible, check_gap_chord, protect, spot_along


class _NearStop(NearCase):
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


class _NearSilent(NearCase):
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
        settle(day, self.name, self.above, truth, t_a, t_b)


class NearSilentLong(_NearSilent):
    name = "near_silent_long"


class NearSilentShort(_NearSilent):
    name = "near_silent_short"
    types = ()
    above = False
