"""The base of injected violations ("tricks") and the helpers they share.

A trick is handed to a vehicle's day planner and takes over part of the plan: one trip, a detour
before or after the working windows, or a hook on every load. It appends :class:`Expect` truths
for everything a correct engine must raise for what the vehicle then did, and sets
``fulfilled`` once it has really happened. A trick that cannot be placed cleanly (too little
time left for a deadline to pass, no unambiguous place for a detour) raises :class:`Infeasible`
or stays unfulfilled; the assigner then tries another vehicle.
"""

from __future__ import annotations

import random

import numpy as np

from sim import oracle
from sim.geo import cumulative, cut, point_at
from sim.scenario import MIN_MS

HOUR_MS = 60 * MIN_MS
TRIP_DEADLINE_MS = 4 * HOUR_MS
ROUND_DEADLINE_MS = 6 * HOUR_MS
DEADLINE_MARGIN_MS = 20 * MIN_MS  # the horizon must run this long past a deadline


class Infeasible(RuntimeError):
    """The trick cannot be placed unambiguously on this vehicle."""


class Trick:
    """Base class: does nothing; subclasses override the hooks they need."""

    name = "none"
    types: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ("muck",)
    needs_sensors = False

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.fulfilled = False

    def eligible(self, world, vehicle) -> bool:
        return vehicle.kind in self.kinds and (vehicle.sensors or not self.needs_sensors)

    # hooks of the muck day (sim.muck) and the kitchen day (sim.kitchen)
    def before(self, day, wins) -> None:
        """Before the first working window (the vehicle is parked at its depot)."""

    def after(self, day) -> None:
        """After the last working window (back at the depot)."""

    def takes_trip(self, day) -> bool:
        """Whether to take over the next trip (or round)."""
        return False

    def trip(self, day, dwell: int) -> None:
        """Do the taken-over trip (or round)."""

    def on_load(self, day, t0: int) -> None:
        """Called for every load dwell starting at ``t0``."""


class OneTrip(Trick):
    """A trick that takes over the first trip (or round) it is offered, until it has happened."""

    def takes_trip(self, day) -> bool:
        return not self.fulfilled


def deadline_fits(day, extra_ms: int, deadline_ms: int = TRIP_DEADLINE_MS) -> bool:
    """A deadline starting ``extra_ms`` from now passes well inside the horizon."""
    return day.it.t + extra_ms + deadline_ms + DEADLINE_MARGIN_MS <= day.w.end_ms


def spot_along(day, path: np.ndarray, lo: float, hi: float, away_m: float = 250.0):
    """A distance in [lo, hi] (fractions of the path) whose point is away from every place and
    zone, or None."""
    cum = cumulative(path)
    total = float(cum[-1])
    for _ in range(12):
        s = day.rng.uniform(lo, hi) * total
        xy = point_at(path, cum, s)
        if day.w.far_from_places(xy, away_m) and day.w.clear_of_zones(xy, 600.0):
            return s
    return None


def position(legs, t: int) -> np.ndarray:
    """Where the planned vehicle is at time ``t``."""
    for leg in legs:
        if leg.t0 <= t < leg.t1:
            return leg.at(np.array([t]))[0]
    return legs[-1].path[-1]


def protect(day, on: bool) -> None:
    """Mark the legs that follow as part of an injected violation (noise keeps off them)."""
    day.it.protect = on


def check_gap_chord(day, t_a: int, t_b: int) -> None:
    """Refuse a signal gap [t_a, t_b] whose straight chord (30 s either side) passes within
    300 m of a restricted zone: segment-crossing checks must see nothing in it (issue 11).

    Raises
    ------
    Infeasible
        When the chord passes a restricted zone.
    """
    a = position(day.it.legs, t_a - 30 * 1000)
    b = position(day.it.legs, t_b + 30 * 1000)
    if not oracle.chord_clear(day.w, a, b, 300.0):
        raise Infeasible("the silent gap's chord passes a restricted zone")


def clear_detour(day, detour: np.ndarray) -> bool:
    """A detour keeps 200 m from every place and 600 m from every zone (sampled every 50 m)."""
    pts = oracle.sample(detour, 50.0)
    return all(day.w.far_from_places(p, 200) and day.w.clear_of_zones(p, 600) for p in pts)


def rest_of_haul(day, corridor, cum: np.ndarray, s: float) -> np.ndarray:
    """The corridor from ``s`` on, ending at its terminal's gate: the way back after a detour."""
    path = corridor.path
    return np.vstack([cut(path, cum, s, float(cum[-1]))[:-1], day.w.places[corridor.terminal].xy])
