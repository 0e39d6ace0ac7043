"""A muck truck's night: permitted trips between its site and its permit's terminals.

Normal behaviour, kept clearly inside every threshold of the engine:

- The truck waits at its company depot (parked, ACC off) and leaves so as to reach the site 5-40
  min after the permit's hours open; it never waits at the site (a dwell there is a load).
- Trip: loading dwell of 6-15 min at a spot near the site centre (body sensor ``empty`` → ``half``
  → ``full``; cover open while loading, closed before leaving), drive the corridor at 22-38 km/h
  (traffic stops of 30-90 s away from places), unloading dwell of 6-15 min at the terminal (lift
  raised in the middle, then ``empty``), back along the corridor, and again — as long as the
  next load can both start and leave inside the permit hours with 10 minutes to spare.
- After the last trip of a window, back to the depot.

A *trick* (``sim.muck_tricks``) may take over one trip or add a detour before or after
the windows; it registers the truths of what it made the truck do.
"""

from __future__ import annotations

import random

import numpy as np

from sim import normal
from sim.geo import cumulative, cut
from sim.normal import Episode, Patterns
from sim.scenario import MIN_MS, Corridor, Vehicle, World, plan_night, windows
from sim.track import Itinerary


class MuckDay:
    """Plans one muck truck over the horizon (call :meth:`plan`)."""

    def __init__(self, world: World, vehicle: Vehicle, rng: random.Random, trick=None):
        self.w = world
        self.v = vehicle
        self.rng = rng
        self.trick = trick
        self.permit = world.permit_of(vehicle.id)
        self.site = world.places[self.permit.site]
        self.depot = world.places[vehicle.depot]
        self.it = Itinerary.at_depot(world, self.depot, vehicle.sensors, rng)
        self.expects: list = []
        self.episodes: list[Episode] = []
        self.patterns = Patterns.of_vehicle(world, vehicle, trick)
        self.at_site = False  # a trick brought the truck back to its site already
        self.trips = 0
        self.done = False  # the truck parks for the rest of the horizon
        self.speed = 30.0
        self.stops = True
        self.corridor: Corridor | None = None  # the corridor of the current trip

    # -- the night ---------------------------------------------------------------------------
    def plan(self) -> MuckDay:
        plan_night(self, windows(self.permit.hours, self.w.start_ms, self.w.end_ms))
        return self

    def session(self, ws: int, we: int) -> None:
        """Trips inside one permit window [ws, we)."""
        to_site = self.w.road(self.it.xy, self.site.xy, "muck")
        travel = int(cumulative(to_site)[-1] / (30 / 3.6) * 1000)
        arrive = max(ws + self.rng.randint(5, 40) * MIN_MS, self.it.t + travel + MIN_MS)
        if arrive + 16 * MIN_MS > we:
            return
        self.it.park_until(arrive - travel)
        self.drive_to(self.site.xy, speed=self.rng.uniform(25, 38))
        while not self.done:
            dwell = self.rng.randint(6 * 60, 15 * 60) * 1000
            if self.it.t + dwell + 10 * MIN_MS > we:
                break
            if self.trick is not None and self.trick.takes_trip(self):
                self.trick.trip(self, dwell)
            else:
                self.trip(dwell)
            self.trips += 1
            if self.done:
                return
            if not self.return_to_site(we):
                break
        self.go_depot()

    def trip(self, dwell: int) -> None:
        """One permitted trip: load, haul along a corridor, unload; a share of them follow a
        normal-operation pattern (``sim.normal``), recorded as an episode."""
        pattern = self.patterns.muck_trip(self.v.sensors)
        t0 = self.load(dwell, pattern)
        corridor = self.corridor = self.pick_corridor()
        term = self.w.places[corridor.terminal]
        spot = term.spot(self.rng)
        drift = None
        if pattern == "gate_drift":
            drift = normal.edge_spot(term, corridor.path[-2], self.rng)
            pattern = pattern if drift is not None else None
            spot = drift[0] if drift is not None else spot
        path = np.vstack([corridor.path[:-1], spot])
        self.speed = self.rng.uniform(22, 38)
        events: list = []
        if pattern == "gate_queue":
            s_q = normal.queue_spot(self, path, term)
            pattern = pattern if s_q is not None else None
            events = normal.queue(self, s_q) if s_q is not None else []
        self.follow(path, events)
        if drift is not None:
            normal.drifting_unload(self, *drift)
        else:
            self.unload(term, pattern)
        if pattern is None and not self.v.loaded_field and self.patterns.enabled:
            pattern = "no_load_field"
        if pattern is not None:
            after = normal.TRIP_AFTER_MS + (15 * MIN_MS if pattern == "stuck_half" else 0)
            note = f"{pattern} on a trip to {term.id}"
            end = self.it.t + after
            self.episodes.append(Episode(pattern, self.v.id, t0, end, note, term.id))

    # -- building blocks ---------------------------------------------------------------------
    def pick_corridor(self) -> Corridor:
        return self.w.corridors[self.rng.choice(self.permit.corridors)]

    def load(self, dwell: int, pattern: str | None = None) -> int:
        """The loading dwell at the site; returns its start time. ``tip_back``: the tipper is
        raised for a minute or so at the end (an overload tipped back); ``stuck_half``: the
        load sensor sticks at ``half`` (sim.normal)."""
        it = self.it
        t0 = it.t
        it.job = True
        it.set(loaded="empty", cover=True, lift=False)
        it.stay(dwell * 3 // 10)
        it.set(loaded="half")
        it.stay(dwell * 45 // 100)
        rest = dwell - dwell * 3 // 10 - dwell * 45 // 100
        it.set(loaded="half" if pattern == "stuck_half" else "full", cover=False)
        if pattern == "tip_back":
            lift = self.rng.randint(60, 90) * 1000
            it.set(lift=True)
            it.stay(lift)
            it.set(lift=False)
            rest = max(rest - lift, 60_000)
        it.stay(rest)
        if self.trick is not None:
            self.trick.on_load(self, t0)
        return t0

    def unload(self, terminal, pattern: str | None = None) -> int:
        """The unloading dwell at ``terminal``; returns its start time. ``short_unload``: 2 min
        40 s, tipper up, sensor full → empty; ``stuck_half``: tipper up 4 min, the sensor stuck
        at ``half`` (sim.normal)."""
        it = self.it
        dwell = self.rng.randint(6 * 60, 15 * 60) * 1000
        t0 = it.t
        if pattern in ("short_unload", "stuck_half"):
            short = pattern == "short_unload"
            it.set(lift=False)
            it.stay(20_000 if short else 60_000)
            it.set(lift=True, loaded="half", cover=True)
            it.stay(80_000 if short else 240_000)
            it.set(lift=False, cover=False, **({"loaded": "empty"} if short else {}))
            it.stay(60_000 if short else self.rng.randint(120, 300) * 1000)
            it.job = False
            return t0
        it.set(lift=False)
        it.stay(dwell * 15 // 100)
        it.set(lift=True, loaded="half", cover=True)
        it.stay(dwell * 40 // 100)
        it.set(lift=False, loaded="empty", cover=False)
        it.stay(dwell - dwell * 15 // 100 - dwell * 40 // 100)
        it.job = False
        return t0

    def haul(self, corridor: Corridor, events=()) -> bool:
        """Drive ``corridor`` loaded, from the site to its terminal's unloading spot.

        ``events`` are ``(distance_m, callback)``; a callback returning False ends the haul
        there (the truck went elsewhere).
        """
        self.corridor = corridor
        term = self.w.places[corridor.terminal]
        path = np.vstack([corridor.path[:-1], term.spot(self.rng)])
        self.speed = self.rng.uniform(22, 38)
        return self.follow(path, events)

    def follow(self, path: np.ndarray, events=()) -> bool:
        """Drive ``path`` at ``self.speed``, calling the event callbacks on the way."""
        cum = cumulative(path)
        total = float(cum[-1])
        s_prev = 0.0
        for s, fn in [*sorted(events, key=lambda e: e[0]), (total, None)]:
            if s > s_prev + 1:
                self.it.drive(cut(path, cum, s_prev, s), self.speed, stops=self.stops)
            s_prev = max(s_prev, s)
            if fn is not None and fn(self) is False:
                return False
        return True

    def drive_to(self, xy: np.ndarray, speed: float | None = None, spot=None) -> None:
        """Drive the road network (not a corridor) to ``xy``'s place spot."""
        target = spot if spot is not None else self._spot_near(xy)
        path = self.w.road(self.it.xy, xy, "muck")
        path = np.vstack([path[:-1], target])
        self.it.drive(path, speed or self.rng.uniform(25, 38))

    def _spot_near(self, xy: np.ndarray) -> np.ndarray:
        for place in (self.site, self.depot):
            if np.allclose(place.xy, xy):
                return place.spot(self.rng)
        return np.asarray(xy, dtype=float)

    def return_to_site(self, we: int) -> bool:
        """Back to the site along the corridor just driven, if another load still fits."""
        if self.at_site:  # a trick drove back already
            self.at_site = False
            return self.it.t + 18 * MIN_MS <= we
        corridor = self.corridor
        path = corridor.path[::-1] if corridor is not None else None
        if path is None or not np.allclose(self.w.places[corridor.terminal].xy, path[0]):
            path = self.w.road(self.it.xy, self.site.xy, "muck")
        speed = self.rng.uniform(25, 38)
        back = int(cumulative(path)[-1] / (speed / 3.6) * 1000)
        if self.it.t + back + 6 * MIN_MS + 12 * MIN_MS > we:
            return False
        self.it.drive(np.vstack([path[:-1], self.site.spot(self.rng)]), speed)
        return True

    def go_depot(self) -> None:
        self.drive_to(self.depot.xy)
