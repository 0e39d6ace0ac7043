"""Muck tricks around the load that never arrives: stops, dumps and silent terminals.

- ``abnormal_stop``: a loaded stop of 8-14 min on the corridor (outside every place), then on to
  the terminal → ``suspected_dumping`` [stop start].
- ``lift_dump``: a 2.5-4 min stop on the corridor with the tipper raised (load gone), then home
  to the depot for the night → ``suspected_dumping`` [lift ping], ``unmatched_source``
  [departure from the site; only placed where the 4 h deadline passes inside the horizon].
- ``dark_dump``: the terminal goes silent (jammer) on the corridor; unseen, the truck dumps and
  heads home; it reappears 22-35 min later → ``signal_lost`` [last live ping],
  ``unmatched_source``.
- ``backfill_dump``: the same in a blind area: the positions are buffered and re-sent later as a
  batch (``backfill: true``), which shows an 8-14 min loaded stop with the lift raised →
  ``signal_lost``, ``suspected_dumping`` (found late) [stop start], ``unmatched_source``.
- ``gap_reappear``: silent for 22+ min on the corridor (a hidden stop included), reappears
  further on and delivers normally → ``signal_lost`` only.

Every gap's straight chord (last ping before → first after) stays clear of restricted zones, so
segment-crossing checks see nothing; the truck is loaded and outside known places at the last
ping before each gap, so the gap counts as "under way".
"""

from __future__ import annotations

from sim.geo import cumulative
from sim.oracle import Expect, first_at, first_outside, last_live_before
from sim.scenario import MIN_MS
from sim.track import BUFFERED, DARK
from sim.tricks import (
    Infeasible,
    OneTrip,
    Trick,
    check_gap_chord,
    deadline_fits,
    protect,
    spot_along,
)

SEC = 1000


def _departure_truth(day, load_end: int) -> Expect:
    return Expect(
        "unmatched_source",
        first_outside(day.site.shape, load_end),
        f"load at {day.site.id} never reached a terminal",
        5 * MIN_MS,
        5 * MIN_MS,
    )


def _going_silent(marks: dict):
    """The haul event where a loaded truck goes silent: protected from noise, no traffic stop
    inside the gap, its start kept in ``marks["t_a"]``."""

    def go_silent(d):
        protect(d, True)
        marks["t_a"] = d.it.t
        d.stops = False

    return go_silent


class AbnormalStop(OneTrip):
    name = "abnormal_stop"
    types = ("suspected_dumping",)

    def trip(self, day, dwell: int) -> None:
        day.load(dwell)
        corridor = day.pick_corridor()
        s = spot_along(day, corridor.path, 0.3, 0.7)
        if s is None:
            raise Infeasible("no stop spot away from places")

        def stop(d):
            protect(d, True)
            t0 = d.it.t
            d.it.stay(self.rng.randint(8 * 60, 14 * 60) * SEC)
            note = f"loaded stop on {corridor.id}, outside every place"
            d.expects.append(Expect("suspected_dumping", first_at(t0), note))
            protect(d, False)

        day.haul(corridor, [(s, stop)])
        day.unload(day.w.places[corridor.terminal])
        self.fulfilled = True


class _LostLoad(Trick):
    """A load that never reaches a terminal: placed only where the 4 h trip deadline passes
    inside the horizon, so that ``unmatched_source`` is a truth."""

    needs_sensors = True

    def takes_trip(self, day) -> bool:
        return not self.fulfilled and deadline_fits(day, 20 * MIN_MS)

    def load_and_leave(self, day, dwell: int):
        """Load, record the ``unmatched_source`` truth of this load, pick the corridor."""
        day.load(dwell)
        day.expects.append(_departure_truth(day, day.it.t))
        return day.pick_corridor()


class LiftDump(_LostLoad):
    name = "lift_dump"
    types = ("suspected_dumping", "unmatched_source")

    def trip(self, day, dwell: int) -> None:
        corridor = self.load_and_leave(day, dwell)
        s = spot_along(day, corridor.path, 0.3, 0.7)
        if s is None:
            raise Infeasible("no dump spot away from places")

        def dump(d):
            protect(d, True)
            d.it.stay(self.rng.randint(30, 60) * SEC)
            d.it.set(lift=True, loaded="half")
            t_lift = d.it.t
            d.it.stay(self.rng.randint(90, 150) * SEC)
            d.it.set(lift=False, loaded="empty")
            d.it.stay(30 * SEC)
            note = f"tipper raised on {corridor.id}, outside every terminal"
            d.expects.append(Expect("suspected_dumping", first_at(t_lift), note))
            d.go_depot()
            protect(d, False)
            d.done = True
            return False

        day.haul(corridor, [(s, dump)])
        self.fulfilled = True


class _SilentDump(_LostLoad):
    """Shared plan of dark_dump and backfill_dump: silent from s_a, dump at s_d, home."""

    link = DARK
    stop_min = (5 * 60, 10 * 60)

    def trip(self, day, dwell: int) -> None:
        corridor = self.load_and_leave(day, dwell)
        s_a = spot_along(day, corridor.path, 0.25, 0.4)
        s_d = spot_along(day, corridor.path, 0.55, 0.85)
        if s_a is None or s_d is None:
            raise Infeasible("no silent stretch away from places")
        marks = {}

        def dump(d):
            marks["t_stop"] = d.it.t
            d.it.stay(self.rng.randint(60, 120) * SEC)
            d.it.set(lift=True, loaded="half")
            lift = self.rng.randint(90, 180) * SEC  # a dump takes a minute or three
            d.it.stay(lift)
            d.it.set(lift=False, loaded="empty")
            d.it.stay(max(30 * SEC, self.rng.randint(*self.stop_min) * SEC - lift - 120 * SEC))
            marks["t_left"] = d.it.t
            d.go_depot()
            return False

        day.haul(corridor, [(s_a, _going_silent(marks)), (s_d, dump)])
        t_a = marks["t_a"]
        t_resume = max(
            t_a + self.rng.randint(22 * 60, 35 * 60) * SEC,
            marks["t_left"] + self.rng.randint(3 * 60, 8 * 60) * SEC,
        )
        day.it.park_until(t_resume + 2 * MIN_MS)
        check_gap_chord(day, t_a, t_resume)
        release = t_resume + self._delay()
        day.it.relink(t_a, t_resume, self.link, release)
        protect(day, False)
        day.it.job = True  # the engine's trip stays open: no long blind gaps from here on
        day.expects.append(
            Expect("signal_lost", last_live_before(t_a), f"silent on {corridor.id} while loaded")
        )
        self._truths(day, marks, corridor)
        day.done = True
        self.fulfilled = True

    def _delay(self) -> int:
        return 0

    def _truths(self, day, marks, corridor) -> None:
        """Truths beyond signal_lost and unmatched_source."""


class DarkDump(_SilentDump):
    name = "dark_dump"
    types = ("signal_lost", "unmatched_source")


class BackfillDump(_SilentDump):
    name = "backfill_dump"
    types = ("signal_lost", "suspected_dumping", "unmatched_source")
    link = BUFFERED
    stop_min = (8 * 60, 14 * 60)

    def _delay(self) -> int:
        if self.rng.random() < 0.5:
            return self.rng.randint(5, 60) * SEC
        return self.rng.randint(5 * 60, 40 * 60) * SEC

    def _truths(self, day, marks, corridor) -> None:
        note = f"loaded stop with tipper raised on {corridor.id}, in a blind area (backfill)"
        day.expects.append(Expect("suspected_dumping", first_at(marks["t_stop"]), note))


class GapReappear(OneTrip):
    name = "gap_reappear"
    types = ("signal_lost",)

    def trip(self, day, dwell: int) -> None:
        day.load(dwell)
        corridor = day.pick_corridor()
        total = float(cumulative(corridor.path)[-1])
        s_a = spot_along(day, corridor.path, 0.15, 0.3)
        if s_a is None or total < 3000:
            raise Infeasible("corridor too short for a silent stretch")
        s_h = s_a + 0.25 * (0.85 * total - s_a)
        s_b = 0.85 * total
        marks = {}

        def hide(d):
            drive_ms = (s_b - s_a) / (d.speed / 3.6) * 1000
            hidden = max(6 * MIN_MS, 22 * MIN_MS - drive_ms) + self.rng.randint(0, 6 * 60) * SEC
            d.it.stay(int(hidden))

        def reappear(d):
            marks["t_b"] = d.it.t
            d.stops = True

        day.haul(corridor, [(s_a, _going_silent(marks)), (s_h, hide), (s_b, reappear)])
        t_a, t_b = marks["t_a"], marks["t_b"]
        check_gap_chord(day, t_a, t_b)
        day.it.relink(t_a, t_b, DARK)
        protect(day, False)
        day.unload(day.w.places[corridor.terminal])
        note = f"silent {round((t_b - t_a) / 60000)} min on {corridor.id} while loaded, reappeared"
        day.expects.append(Expect("signal_lost", last_live_before(t_a), note))
        self.fulfilled = True
