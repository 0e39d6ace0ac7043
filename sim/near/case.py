"""What every near-threshold case shares (issue 11): the report interval, the margins either
side of a threshold, and the settling of a case as a truth (just above) or an episode (just
below). The cases themselves: ``sim.near`` and its modules."""

from __future__ import annotations

from sim.normal import Episode
from sim.oracle import Expect, first_at
from sim.tricks import OneTrip

SEC = 1000
EVERY_S = 5  # report interval inside a near-threshold case
STOP_MARGIN_MS = 20 * SEC
SILENT_MARGIN_MS = 30 * SEC
SUSTAIN_MARGIN_MS = 10 * SEC
LIMIT_MARGIN_KMH = 5.0
FAST_OVER_KMH = 15.0


def episode(day, name: str, t0: int, t1: int, note: str) -> None:
    """Record a case short of its threshold as an episode (no truth, must not alert) from
    2 min before ``t0`` to 10 min after ``t1``: the scorer attributes a false alarm of the
    vehicle in that window to it."""
    day.episodes.append(Episode(name, day.v.id, t0 - 2 * 60_000, t1 + 10 * 60_000, note))


def settle(day, name: str, beyond: bool, truth: Expect, t0: int, t1: int) -> None:
    """A case beyond its threshold is ``truth``; one short of it, an episode over [t0, t1]
    with the same note (issue 11: just above is a truth, just below is none)."""
    if beyond:
        day.expects.append(truth)
    else:
        episode(day, name, t0, t1, truth.note)


class NearCase(OneTrip):
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
        settle(day, self.name, self.above, truth, t0, t1)

    def note(self, corridor, ms: int) -> str:
        raise NotImplementedError
