"""Muck tricks on the road: off the corridor, into a zone, too fast, cover open.

- ``detour``: loaded, the truck leaves the corridor 450-800 m sideways for 1.2-2.5 km and comes
  back → ``route_deviation`` [first ping beyond the 150 m tolerance].
- ``wrong_terminal``: loaded, it drives the road network to a terminal or transfer point its
  permit does not name (桃花山 among them) and unloads there → ``unapproved_terminal`` [start of
  the unload dwell] and ``route_deviation`` for every clear run beyond the tolerance on the way.
- ``zone_errand``: empty, from the depot, an out-and-back errand through the centre of a
  restricted zone while the zone's hours apply (10 min margin each side) → ``restricted_zone``
  [first ping inside].
- ``overspeed``: 120-200 s at 82-92 km/h on the corridor (limit 60, or 50 where the corridor
  says so) → ``overspeed`` [first fast ping].
- ``open_cover``: loaded, cover open for 3-6 min while driving the corridor → ``uncovered_load``.

Paths are checked before they are used: a deviation must be unambiguous (every run beyond the
tolerance lasts 150 s or more and peaks beyond 300 m; no part hovers near the tolerance), an
errand must avoid every other zone.
"""

from __future__ import annotations

import math

import numpy as np

from sim import oracle
from sim.geo import cumulative, parallel_detour
from sim.oracle import Expect, first_at, first_breaking, first_inside_active
from sim.roads import road_via
from sim.scenario import MIN_MS
from sim.tricks import Infeasible, OneTrip, Trick, clear_detour, protect, rest_of_haul

SEC = 1000


def _runs_to_truths(day, runs, t0: int, speed: float, note: str) -> None:
    """Route-deviation truths for the runs of a path driven from ``t0`` (cooldown applied)."""
    breaks = oracle.deviation_test(day.w, day.permit)
    last = None
    for k, seconds, _peak in runs:
        t_start = t0 + int(k * 10.0 / (speed / 3.6) * 1000)
        if last is not None and t_start - last < 12 * MIN_MS:
            if t_start - last > 8 * MIN_MS:
                raise Infeasible("second deviation run near the cooldown edge")
            continue
        t_end = t_start + int(seconds * 1000)
        anchor = first_breaking(breaks, t_start - MIN_MS, t_end)
        day.expects.append(Expect("route_deviation", anchor, note, 3 * MIN_MS, 5 * MIN_MS))
        last = t_start


class Detour(OneTrip):
    name = "detour"
    types = ("route_deviation",)

    def trip(self, day, dwell: int) -> None:
        day.load(dwell)
        corridor = day.pick_corridor()
        path = corridor.path
        cum = cumulative(path)
        total = float(cum[-1])
        day.speed = self.rng.uniform(24, 36)
        for _ in range(10):
            s1 = self.rng.uniform(0.2, 0.5) * total
            s2 = s1 + self.rng.uniform(1200, 2500)
            if s2 > 0.85 * total:
                continue
            side = self.rng.choice((-1.0, 1.0))
            offset = corridor.buffer_m + self.rng.uniform(450, 800)
            detour = parallel_detour(path, cum, s1, s2, side, offset)
            if not clear_detour(day, detour):
                continue
            try:
                runs = oracle.deviation_runs(oracle.outside_distance(day.w, day.permit, detour),
                                             day.speed)  # fmt: skip
            except ValueError:
                continue
            if len(runs) == 1:
                break
        else:
            raise Infeasible("no clean detour along this corridor")
        rest = rest_of_haul(day, corridor, cum, s2)

        def stray(d):
            protect(d, True)
            t0 = d.it.t
            d.it.drive(detour, d.speed, stops=False)
            _runs_to_truths(d, runs, t0, d.speed, f"left {corridor.id} by {offset:.0f} m")
            protect(d, False)
            d.it.drive(rest, d.speed)
            return False

        day.corridor = corridor
        day.follow(path, [(s1, stray)])
        day.unload(day.w.places[corridor.terminal])
        self.fulfilled = True


class WrongTerminal(OneTrip):
    name = "wrong_terminal"
    types = ("unapproved_terminal", "route_deviation")

    def trip(self, day, dwell: int) -> None:
        day.load(dwell)
        w = day.w
        others = [
            p for p in w.places.values()
            if p.kind in ("terminal", "transfer") and p.id not in day.permit.terminals
        ]  # fmt: skip
        others.sort(key=lambda p: (math.dist(p.xy, day.site.xy), p.id))
        speed = self.rng.uniform(25, 36)
        for term in others[:5]:
            path = w.road(day.it.xy, term.xy, "muck")
            if cumulative(path)[-1] > 20_000:
                continue
            try:
                runs = oracle.deviation_runs(oracle.outside_distance(w, day.permit, path), speed)
            except ValueError:
                continue
            break
        else:
            raise Infeasible("no unambiguous unapproved terminal nearby")
        protect(day, True)
        t0 = day.it.t
        day.it.drive(np.vstack([path[:-1], term.spot(self.rng)]), speed, stops=False)
        _runs_to_truths(day, runs, t0, speed, f"loaded, on the way to {term.id}")
        t_unload = day.unload(term)
        note = f"unloaded at {term.id}, not on {day.permit.id}"
        day.expects.append(Expect("unapproved_terminal", first_at(t_unload), note))
        protect(day, False)
        day.corridor = None
        self.fulfilled = True


class ZoneErrand(Trick):
    name = "zone_errand"
    types = ("restricted_zone",)

    def before(self, day, wins) -> None:
        limit = wins[0][0] if wins else day.w.end_ms
        self._errand(day, day.it.t + self.rng.randint(5, 25) * MIN_MS, limit)

    def after(self, day) -> None:
        if not self.fulfilled:
            self._errand(day, day.it.t + self.rng.randint(10, 30) * MIN_MS, day.w.end_ms)

    def _errand(self, day, t_dep: int, limit: int) -> None:
        w = day.w
        kind = day.v.kind
        home = day.it.xy
        speed = self.rng.uniform(25, 38)
        for zone in sorted(w.zones_for(kind), key=lambda z: (math.dist(z.xy, home), z.id)):
            others = [z for z in w.zones_for(kind) if z.id != zone.id]
            path = road_via(home, zone.xy, home, self.rng, others)
            length = float(cumulative(path)[-1])
            duration = int(length / (speed / 3.6) * 1000)
            if length > 40_000 or t_dep + duration + 10 * MIN_MS > min(limit, w.end_ms):
                continue
            times = oracle.path_zone_times(path, zone, t_dep, speed)
            if times is None or not oracle.zone_window_ok(zone, kind, *times):
                continue
            day.it.park_until(t_dep)
            protect(day, True)
            day.it.drive(path, speed, stops=False)
            protect(day, False)
            anchor = first_inside_active(zone, kind, t_dep, day.it.t)
            note = f"errand through {zone.id} during its hours"
            day.expects.append(Expect("restricted_zone", anchor, note))
            self.fulfilled = True
            return


class Overspeed(OneTrip):
    name = "overspeed"
    types = ("overspeed",)

    def trip(self, day, dwell: int) -> None:
        day.load(dwell)
        corridor = day.pick_corridor()
        total = float(cumulative(corridor.path)[-1])
        fast = self.rng.uniform(82, 92)
        stretch = fast / 3.6 * self.rng.randint(120, 200)
        if total < stretch + 2000:
            raise Infeasible("corridor too short for a speeding stretch")
        s1 = self.rng.uniform(0.15 * total, total - stretch - 800)
        marks = {}

        def speed_up(d):
            protect(d, True)
            marks["cruise"] = d.speed
            d.speed, d.stops = fast, False
            t0 = d.it.t
            d.expects.append(Expect("overspeed", first_at(t0), f"{fast:.0f} km/h on {corridor.id}"))

        def slow_down(d):
            d.speed, d.stops = marks["cruise"], True
            protect(d, False)

        day.haul(corridor, [(s1, speed_up), (s1 + stretch, slow_down)])
        day.unload(day.w.places[corridor.terminal])
        self.fulfilled = True


class OpenCover(OneTrip):
    name = "open_cover"
    types = ("uncovered_load",)
    needs_sensors = True

    def trip(self, day, dwell: int) -> None:
        day.load(dwell)
        corridor = day.pick_corridor()
        total = float(cumulative(corridor.path)[-1])
        stretch = 30 / 3.6 * self.rng.randint(180, 360)  # at about cruise speed
        if total < stretch + 1500:
            raise Infeasible("corridor too short for an open-cover stretch")
        s1 = self.rng.uniform(0.1 * total, total - stretch - 700)

        def open_cover(d):
            protect(d, True)
            d.stops = False
            d.it.set(cover=True)
            note = f"cover open while loaded on {corridor.id}"
            d.expects.append(Expect("uncovered_load", first_at(d.it.t), note))

        def close_cover(d):
            d.it.set(cover=False)
            d.stops = True
            protect(d, False)

        day.haul(corridor, [(s1, open_cover), (s1 + stretch, close_cover)])
        day.unload(day.w.places[corridor.terminal])
        self.fulfilled = True
