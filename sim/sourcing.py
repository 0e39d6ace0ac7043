"""Kitchen and oil tricks against the register of sources (issue 11, docs/domain.md).

- ``poach``: mid-round, the vehicle collects (4-10 min) at a restaurant on *another company's*
  contract (抢收) → ``unregistered_collection`` [start of the dwell]; its note names that
  contract. Then it finishes its round and delivers.
- ``unsourced``: leaving its depot at the start of a working window, the vehicle drives straight
  to its plant and delivers (10-20 min) with nothing collected since its last delivery (none in
  the horizon) → ``unsourced_delivery`` [start of the delivery dwell]; then it works a normal
  round.
"""

from __future__ import annotations

import math

from sim.collection import KINDS
from sim.oracle import Expect, first_at
from sim.tricks import Infeasible, Trick, protect

REACH_M = 6000.0  # a poached restaurant lies within this of the round's first one


def foreign_producers(world, vehicle) -> list:
    """Producers on the contracts of vehicles of other companies, with their contract."""
    company = {v.id: v.company for v in world.vehicles}
    return [
        (world.places[p], c)
        for c in world.contracts
        if company[c.vehicle] != vehicle.company
        for p in c.producers
    ]


class Poach(Trick):
    name = "poach"
    types = ("unregistered_collection",)
    kinds = KINDS

    def eligible(self, world, vehicle) -> bool:
        return super().eligible(world, vehicle) and bool(foreign_producers(world, vehicle))

    def takes_trip(self, day) -> bool:
        return not self.fulfilled

    def trip(self, day, stops) -> None:
        day.collect(stops[0])
        here = day.it.xy
        near = [
            (math.dist(p.xy, here), p.id, p, c)
            for p, c in foreign_producers(day.w, day.v)
            if 700 <= math.dist(p.xy, here) <= REACH_M and day.w.clear_of_zones(p.xy, 1500)
        ]
        if not near:
            raise Infeasible("no other company's restaurant within reach")
        _, _, target, contract = min(near, key=lambda r: (r[0], r[1]))
        protect(day, True)
        t0 = day.collect(target)
        protect(day, False)
        note = f"collection at {target.id}, on {contract.id} of another company (poaching)"
        day.expects.append(Expect("unregistered_collection", first_at(t0), note))
        for producer in stops[1:]:
            day.collect(producer)
        day.deliver()
        self.fulfilled = True


class Unsourced(Trick):
    name = "unsourced"
    types = ("unsourced_delivery",)
    kinds = KINDS

    def takes_trip(self, day) -> bool:
        # Only straight from the depot: a plant visit right after another would be one visit.
        return not self.fulfilled and math.dist(day.it.xy, day.depot.xy) < 300

    def trip(self, day, stops) -> None:
        protect(day, True)
        t0 = day.deliver()
        protect(day, False)
        note = f"delivered to {day.plant.id} with no collection since its last delivery"
        day.expects.append(Expect("unsourced_delivery", first_at(t0), note))
        day.round(stops)
        self.fulfilled = True
