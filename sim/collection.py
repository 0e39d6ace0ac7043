"""Kitchen and oil tricks: where collections go wrong.

- ``unregistered_stop``: mid-round, 5-12 min standing at a restaurant that is on no contract
  (200+ m from every place) → ``unregistered_collection`` [start of the stop].
- ``undelivered``: a round whose waste never reaches a plant: after its collections the vehicle
  goes back to the depot for the rest of the horizon → ``undelivered_collection`` [start of the
  round's first collection]; placed only where the 6 h deadline passes inside the horizon.
- ``kitchen_overspeed``: 120-180 s at 92-100 km/h on a long leg (limit 70) → ``overspeed``.
- ``kitchen_zone``: a leg of a round cut through the centre of a zone restricting kitchen/oil
  vehicles, inside its hours → ``restricted_zone`` [first ping inside].
"""

from __future__ import annotations

import math

import numpy as np

from sim import oracle
from sim.geo import cumulative, cut
from sim.oracle import Expect, first_at, first_inside_active
from sim.roads import road_via
from sim.tricks import ROUND_DEADLINE_MS, Infeasible, Trick, deadline_fits, protect

SEC = 1000
KINDS = ("kitchen", "oil")


class UnregisteredStop(Trick):
    name = "unregistered_stop"
    types = ("unregistered_collection",)
    kinds = KINDS

    def takes_trip(self, day) -> bool:
        return not self.fulfilled

    def trip(self, day, stops) -> None:
        self.pull_in(day, stops)
        protect(day, True)
        t0 = day.it.t
        day.it.stay(self.rng.randint(5 * 60, 12 * 60) * SEC)
        protect(day, False)
        day.expects.append(Expect("unregistered_collection", first_at(t0), "stop at a restaurant "
                                  "on no contract"))  # fmt: skip
        for producer in stops[1:]:
            day.collect(producer)
        day.deliver()
        self.fulfilled = True

    def pull_in(self, day, stops) -> None:
        """Collect at the round's first producer, then drive to a restaurant on no contract on
        the way to the next one (or to the plant)."""
        day.collect(stops[0])
        spot = self._spot(day, stops[1].xy if len(stops) > 1 else day.plant.xy)
        day.it.drive(np.vstack([day.w.road(day.it.xy, spot, day.v.kind)[:-1], spot]), day.speed())

    def _spot(self, day, toward: np.ndarray) -> np.ndarray:
        here = day.it.xy
        for _ in range(30):
            f = self.rng.uniform(0.3, 0.7)
            a = self.rng.uniform(0, 2 * math.pi)
            xy = (
                here
                + f * (toward - here)
                + self.rng.uniform(200, 700) * np.array([math.cos(a), math.sin(a)])
            )
            # Far enough from the last producer that the vehicle is seen driving in between.
            if math.dist(xy, here) < 700:
                continue
            if day.w.far_from_places(xy, 250) and day.w.clear_of_zones(xy, 1500):
                return xy
        raise Infeasible("no free spot for an unregistered restaurant")


class Undelivered(Trick):
    name = "undelivered"
    types = ("undelivered_collection",)
    kinds = KINDS

    def takes_trip(self, day) -> bool:
        return not self.fulfilled and deadline_fits(day, 40 * 60 * SEC, ROUND_DEADLINE_MS)

    def trip(self, day, stops) -> None:
        first = None
        for producer in stops:
            t0 = day.collect(producer)
            first = t0 if first is None else first
        protect(day, True)
        day.go_depot()
        protect(day, False)
        note = f"collected at {len(stops)} producers, never delivered to {day.plant.id}"
        day.expects.append(Expect("undelivered_collection", first_at(first), note))
        day.done = True
        self.fulfilled = True


class KitchenOverspeed(Trick):
    name = "kitchen_overspeed"
    types = ("overspeed",)
    kinds = KINDS

    def takes_trip(self, day) -> bool:
        return not self.fulfilled

    def trip(self, day, stops) -> None:
        fast = self.rng.uniform(92, 100)
        stretch = fast / 3.6 * self.rng.randint(120, 180)
        for place in [*stops, day.plant]:
            path = day.path_to(place)
            if not self.fulfilled and cumulative(path)[-1] > stretch + 1500:
                path = self._speeding(day, path, fast, stretch)
                self.fulfilled = True
            if place is day.plant:
                day.deliver(path)
            else:
                day.collect(place, path)
        if not self.fulfilled:
            raise Infeasible("no leg long enough for a speeding stretch")

    def _speeding(self, day, path, fast: float, stretch: float) -> np.ndarray:
        """Drive up to and through the fast stretch; return the rest of ``path``."""
        cum = cumulative(path)
        total = float(cum[-1])
        s1 = self.rng.uniform(500, total - stretch - 700)
        day.it.drive(cut(path, cum, 0, s1), day.speed())
        protect(day, True)
        note = f"{fast:.0f} km/h between collections"
        day.expects.append(Expect("overspeed", first_at(day.it.t), note))
        day.it.drive(cut(path, cum, s1, s1 + stretch), fast, stops=False)
        protect(day, False)
        return cut(path, cum, s1 + stretch, total)


class KitchenZone(Trick):
    name = "kitchen_zone"
    types = ("restricted_zone",)
    kinds = KINDS

    def takes_trip(self, day) -> bool:
        return not self.fulfilled

    def trip(self, day, stops) -> None:
        kind = day.v.kind
        zones = day.w.zones_for(kind)
        speed = day.speed()
        target = stops[0]
        for zone in sorted(zones, key=lambda z: (math.dist(z.xy, day.it.xy), z.id)):
            others = [z for z in zones if z.id != zone.id]
            path = road_via(day.it.xy, zone.xy, target.xy, self.rng, others)
            if cumulative(path)[-1] > 30_000:
                continue
            times = oracle.path_zone_times(path, zone, day.it.t, speed)
            if times is None or not oracle.zone_window_ok(zone, kind, *times):
                continue
            t0 = day.it.t
            protect(day, True)
            day.it.drive(np.vstack([path[:-1], target.spot(self.rng)]), speed, stops=False)
            protect(day, False)
            note = f"cut through {zone.id} during its hours"
            day.expects.append(
                Expect("restricted_zone", first_inside_active(zone, kind, t0, day.it.t), note)
            )
            day.collect(target, np.array([day.it.xy]))
            for producer in stops[1:]:
                day.collect(producer)
            day.deliver()
            self.fulfilled = True
            return
        day.round(stops)
