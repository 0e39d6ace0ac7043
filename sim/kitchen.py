"""A kitchen-waste or waste-oil vehicle's day: collection rounds between restaurants and a plant.

Collection hours are 09:30-13:30 and 17:30-23:30 (Beijing). In each window the vehicle leaves
its depot, then repeats rounds while a round still fits: 3-5 (oil: 2-4) of its contract's
producers in nearest-first order, cycling through the contract, 4-10 min at each (parked at the
restaurant's door, well inside its 20-40 m circle), then 10-20 min unloading at its plant. It
drives at 20-38 km/h (below every limit by 10 km/h or more) with short traffic stops, and goes
back to the depot when the window closes. It never stands still elsewhere for more than 90 s.
"""

from __future__ import annotations

import math
import random

import numpy as np

from sim import normal
from sim.normal import Episode, Patterns
from sim.scenario import MIN_MS, Vehicle, World, plan_night, windows
from sim.track import Itinerary

KITCHEN_HOURS = ["09:30-13:30", "17:30-23:30"]
SEC = 1000


class KitchenDay:
    """Plans one kitchen/oil vehicle over the horizon (call :meth:`plan`)."""

    def __init__(self, world: World, vehicle: Vehicle, rng: random.Random, trick=None):
        self.w = world
        self.v = vehicle
        self.rng = rng
        self.trick = trick
        self.contract = world.contract_of(vehicle.id)
        self.producers = [world.places[p] for p in self.contract.producers]
        self.plant = world.places[self.contract.plants[0]]
        self.depot = world.places[vehicle.depot]
        self.it = Itinerary.at_depot(world, self.depot, False, rng)
        self.expects: list = []
        self.episodes: list[Episode] = []
        self.patterns = Patterns.of_vehicle(world, vehicle, trick)
        self.rounds = 0
        self.done = False
        self._cursor = rng.randrange(len(self.producers))

    def plan(self) -> KitchenDay:
        plan_night(self, windows(KITCHEN_HOURS, self.w.start_ms, self.w.end_ms))
        return self

    def session(self, ws: int, we: int) -> None:
        depart = max(ws + self.rng.randint(0, 40) * MIN_MS, self.it.t + MIN_MS)
        if depart + 90 * MIN_MS > we:
            return
        self.it.park_until(depart)
        while not self.done and self.it.t + 75 * MIN_MS < we:
            stops = self.pick_round()
            if self.trick is not None and self.trick.takes_trip(self):
                self.trick.trip(self, stops)
            else:
                self.round(stops)
            self.rounds += 1
        if not self.done:
            self.go_depot()

    def pick_round(self) -> list:
        """The next producers of the contract, visited nearest first."""
        n = self.rng.randint(3, 5) if self.v.kind == "kitchen" else self.rng.randint(2, 4)
        n = min(n, len(self.producers))
        chosen = [self.producers[(self._cursor + k) % len(self.producers)] for k in range(n)]
        self._cursor += n
        order, here = [], self.it.xy
        while chosen:
            nxt = min(chosen, key=lambda p: (math.dist(p.xy, here), p.id))
            chosen.remove(nxt)
            order.append(nxt)
            here = nxt.xy
        return order

    def round(self, stops: list) -> None:
        for producer in stops:
            self.collect(producer)
        self.deliver()

    def speed(self) -> float:
        return self.rng.uniform(20, 38)

    def path_to(self, place) -> np.ndarray:
        """The road from here to a parking spot at ``place``."""
        path = self.w.road(self.it.xy, place.xy, self.v.kind)
        return np.vstack([path[:-1], place.spot(self.rng)])

    def collect(self, producer, path: np.ndarray | None = None) -> int:
        """Drive to ``producer`` and collect; returns the start of the collection dwell. A share
        of drives meet a jam and of collections are in a basement dock (sim.normal): a dock
        only once the round has a collection, the vehicle loaded (issue 11)."""
        path = self.path_to(producer) if path is None else path
        jam = self.patterns.kitchen("kitchen_jam")
        if self.patterns.kitchen("basement_dock"):
            dock = normal.basement_collection(self, producer, path)
            if dock is not None:
                self.episodes.append(dock)
                return dock.t0 + MIN_MS
        played = normal.jam_drive(self, path) if jam else None
        if played is not None:
            self.episodes.append(played)
        else:
            self.it.drive(path, self.speed())
        t0 = self.it.t
        self.it.job = True
        self.it.stay(self.rng.randint(4 * 60, 10 * 60) * SEC)
        return t0

    def deliver(self, path: np.ndarray | None = None) -> int:
        self.it.drive(self.path_to(self.plant) if path is None else path, self.speed())
        t0 = self.it.t
        self.it.stay(self.rng.randint(10 * 60, 20 * 60) * SEC)
        self.it.job = False
        return t0

    def go_depot(self) -> None:
        self.it.drive(self.path_to(self.depot), self.speed())
