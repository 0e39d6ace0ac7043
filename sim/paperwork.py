"""Muck tricks against the manifest: loads without a valid permit, unloads without a load.

- ``off_hours``: before the permit's hours open (or after they close), the truck loads at its
  own site, hauls along its corridor and unloads at its terminal → ``unpermitted_load`` [start of
  the load dwell]. The dwell lies 20+ minutes outside the hours. Nothing else: a trip without a
  valid permit is tracked without one, so route and terminal checks do not apply to it.
- ``expired``: the truck's only permit ran out two days before the horizon (the registry gets a
  one-truck copy of its site's permit with an old ``valid_to``); it works its night as usual →
  ``unpermitted_load`` for every load.
- ``ghost_unload``: before its first load the truck picks up a load at an unregistered spot on
  its corridor (8-12 min standing, empty), drives on loaded and unloads at its terminal with no
  trip open → ``unmatched_disposal`` [start of the unload dwell].
"""

from __future__ import annotations

import numpy as np

from sim.geo import cumulative, cut
from sim.oracle import Expect, first_at
from sim.scenario import DAY_MS, MIN_MS, Permit, windows
from sim.tricks import Trick, protect, spot_along

SEC = 1000


class OffHours(Trick):
    name = "off_hours"
    types = ("unpermitted_load",)

    def before(self, day, wins) -> None:
        if not wins or wins[0][0] - day.w.start_ms < 100 * MIN_MS:
            return
        target = wins[0][0] - self.rng.randint(50, 70) * MIN_MS
        self._trip(day, target, wins[0][0] - 20 * MIN_MS)

    def after(self, day) -> None:
        if self.fulfilled:
            return
        wins = [w for w in _windows(day) if w[1] <= day.it.t]
        if wins and day.w.end_ms - day.it.t > 130 * MIN_MS:
            target = max(day.it.t, wins[-1][1]) + self.rng.randint(40, 60) * MIN_MS
            self._trip(day, target, day.w.end_ms - 30 * MIN_MS)

    def _trip(self, day, arrive: int, latest_departure: int) -> None:
        to_site = day.w.road(day.it.xy, day.site.xy, "muck")
        speed = self.rng.uniform(25, 38)
        travel = int(cumulative(to_site)[-1] / (speed / 3.6) * 1000)
        if arrive - travel < day.it.t + 5 * MIN_MS:
            return
        dwell = self.rng.randint(6 * 60, 9 * 60) * SEC
        if arrive + dwell > latest_departure:
            return
        day.it.park_until(arrive - travel)
        day.drive_to(day.site.xy, speed)
        protect(day, True)
        t0 = day.load(dwell)
        protect(day, False)
        note = f"load at {day.site.id} outside the hours of {day.permit.id} {day.permit.hours}"
        day.expects.append(Expect("unpermitted_load", first_at(t0), note))
        day.haul(day.pick_corridor())
        day.unload(day.w.places[day.corridor.terminal])
        day.go_depot()
        self.fulfilled = True


def _windows(day):
    return windows(day.permit.hours, day.w.start_ms, day.w.end_ms)


class Expired(Trick):
    name = "expired"
    types = ("unpermitted_load",)

    def on_load(self, day, t0: int) -> None:
        if t0 >= day.w.end_ms:
            return
        note = f"{day.permit.id} expired before this load"
        expect = Expect("unpermitted_load", first_at(t0), note, needs_ms=3 * MIN_MS)
        day.expects.append(expect)
        self.fulfilled = True


def expire_permit(world, vehicle_id: str) -> Permit:
    """Move the vehicle to its own copy of its permit, expired two days before the horizon."""
    old = world.permit_of(vehicle_id)
    old.vehicles.remove(vehicle_id)
    copy = Permit(
        f"{old.id}-{vehicle_id.lower()}",
        old.site,
        [vehicle_id],
        list(old.terminals),
        list(old.corridors),
        old.valid_from - 365 * DAY_MS,
        world.start_ms - 2 * DAY_MS,
        list(old.hours),
    )
    world.permits.append(copy)
    return copy


class GhostUnload(Trick):
    name = "ghost_unload"
    types = ("unmatched_disposal",)
    needs_sensors = True

    def before(self, day, wins) -> None:
        corridor = day.pick_corridor()
        path = corridor.path
        s = spot_along(day, path, 0.4, 0.7)
        if s is None:
            return
        cum = cumulative(path)
        pickup = cut(path, cum, s, s)[0]
        day.it.park_until(day.it.t + self.rng.randint(5, 30) * MIN_MS)
        day.drive_to(pickup, spot=pickup)
        day.it.job = True  # loaded from here to the unload: no long blind gap
        day.it.stay(self.rng.randint(8 * 60, 12 * 60) * SEC)
        day.it.set(loaded="full", cover=False)
        term = day.w.places[corridor.terminal]
        rest = np.vstack([cut(path, cum, s, float(cum[-1]))[:-1], term.spot(self.rng)])
        day.it.drive(rest, self.rng.uniform(25, 36))
        protect(day, True)
        t0 = day.unload(term)
        protect(day, False)
        note = f"unload at {term.id} with no load recorded (picked up off-site on {corridor.id})"
        day.expects.append(Expect("unmatched_disposal", first_at(t0), note))
        day.corridor = corridor
        day.go_depot()
        self.fulfilled = True
