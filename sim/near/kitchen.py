"""Near-threshold cases of kitchen and oil vehicles (issue 11): ``near_round_late`` /
``near_round_early`` around the round deadline, ``near_unregistered_long`` /
``near_unregistered_short`` around unregistered_stop."""

from __future__ import annotations

from sim import thresholds as T
from sim.collection import UnregisteredStop
from sim.geo import cumulative
from sim.near.case import EVERY_S, SEC, STOP_MARGIN_MS, settle
from sim.oracle import Expect, first_at
from sim.tricks import Infeasible, Trick, deadline_fits, protect


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
        settle(day, self.name, self.late, truth, first, t_d)
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
        settle(day, self.name, self.above, truth, t0, t1)
        self.fulfilled = True


class NearUnregisteredLong(_NearUnregistered):
    name = "near_unregistered_long"


class NearUnregisteredShort(_NearUnregistered):
    name = "near_unregistered_short"
    types = ()
    above = False
