"""Normal operation the bureau does not want flagged (docs/domain.md; issue 11): no truth, episodes.

On vehicles that carry no injected violation, a share of trips and rounds follow one of these
patterns. Each is recorded as an :class:`Episode` (``normal.json``), so that ``landun score
--normal`` can count the false alarms they provoke per 1,000 vehicle-hours and per pattern.

Muck trips (one pattern per trip at most, drawn from the vehicle's own ``normal`` stream):

- ``gate_drift``: the truck unloads ~10 min standing ~15 m inside the edge of its terminal, on
  the side it came from; every minute or two a fix drifts 12-25 m outside (often two in a row),
  one of them while the tipper is up; the load sensor goes to ``empty`` (a normal unload).
- ``gate_queue``: loaded, it queues 40-150 m outside its terminal (stopped, creeps 30 m, stopped
  again) for 5.7-8 min before driving in and unloading.
- ``tip_back``: while loading, the tipper is raised for 60-90 s inside its own site (tipping back
  an overload).
- ``short_unload``: a 2 min 40 s unload: tipper up, the sensor going ``full`` → ``empty``.
- ``stuck_half``: the load sensor sticks at ``half`` from the load on; the tipper is up 4 min in
  the terminal; the sensor says ``half`` until the next load (the drive home included).
- ``no_load_field``: a truck without a load sensor whose terminal omits ``loaded`` altogether
  (one in two of the sensorless trucks), on every normal trip.

Kitchen and oil rounds:

- ``kitchen_jam``: on the way to a restaurant, a ~4 min queue at a red light on a road away from
  every place: stand, crawl a few metres at 4.5-6 km/h, stand, crawl... 44-48 m in the first
  3 min and more (an engine that allows 60 m from where a stop began sees a 3-min stop there),
  then creeping on; never 3 min within 40 m of one spot (issue 11: a 4-minute jam raised
  ``unregistered_collection``).
- ``basement_dock``: on a round with a collection made (loaded, its signal watched), the vehicle
  drives down a ramp to a producer's basement dock: its last fix on the ramp 30-80 m outside the
  producer's circle, ~14 min without signal, seen again on the ramp or at the producer (issue
  11: 14 minutes without signal in a mall's basement dock raised ``signal_lost``).

Episode windows cover where a wrong alert would be dated: a muck trip's from the start of its load
to 45 min after its unload (60 min for ``stuck_half``, whose sensor misleads on the drive home);
a jam's from a minute before to five after; a dock's from a minute before the ramp's fix to ten
minutes after the vehicle drives on.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import numpy as np
import shapely

from sim.geo import cumulative, cut, point_at
from sim.scenario import MIN_MS
from sim.track import DARK, WORKING

SEC = 1000
MUCK_RATES = {  # share of a normal vehicle's trips following each pattern
    "gate_drift": 0.07,
    "gate_queue": 0.07,
    "tip_back": 0.05,
    "short_unload": 0.04,
    "stuck_half": 0.04,
}
KITCHEN_RATES = {"kitchen_jam": 0.25, "basement_dock": 0.15}  # per drive to / per collection
PATTERNS = (*MUCK_RATES, "no_load_field", *KITCHEN_RATES)
TRIP_AFTER_MS = 45 * MIN_MS


@dataclass(frozen=True)
class Episode:
    """A stretch of normal operation (or a near-threshold non-violation) that must not alert."""

    pattern: str
    vehicle: str
    t0: int
    t1: int
    note: str
    place: str = ""  # the fence it happens at, where there is one


class Patterns:
    """Draws the pattern of each trip or stop of one vehicle (None: plain normal)."""

    def __init__(self, rng: random.Random, enabled: bool):
        self.rng = rng
        self.enabled = enabled

    @classmethod
    def of_vehicle(cls, world, vehicle, trick) -> Patterns:
        """A vehicle's own patterns (seeded by the world's seed and its id, so that one
        vehicle's draws never shift another's), off for a vehicle given a trick."""
        rng = random.Random(f"{world.seed}/normal/{vehicle.id}")
        return cls(rng, world.normal_ops and trick is None)

    def muck_trip(self, sensors: bool) -> str | None:
        if not self.enabled:
            return None
        roll = self.rng.random()
        for name, rate in MUCK_RATES.items():
            if roll < rate:
                return name if sensors or name in ("gate_queue",) else None
            roll -= rate
        return None

    def kitchen(self, name: str) -> bool:
        return self.enabled and self.rng.random() < KITCHEN_RATES[name]


# -- muck ---------------------------------------------------------------------------------------
def edge_spot(place, toward: np.ndarray, rng: random.Random):
    """A standing spot ~15 m inside ``place``'s edge on the side of ``toward``, and 3 drift
    points 12-25 m outside it; None when the edge there is too ragged."""
    boundary = place.shape.exterior
    base = math.atan2(toward[1] - place.xy[1], toward[0] - place.xy[0])
    for _ in range(12):
        a = base + rng.uniform(-0.5, 0.5)
        u = np.array([math.cos(a), math.sin(a)])
        ray = shapely.LineString([place.xy, place.xy + u * place.radius * 2])
        hit = ray.intersection(boundary)
        if hit.is_empty:
            continue
        edge = np.array(shapely.get_coordinates(hit)[0])
        inside = edge - 15.0 * u
        if not (place.shape.contains(shapely.Point(inside)) and
                11 <= boundary.distance(shapely.Point(inside)) <= 16):  # fmt: skip
            continue
        drift = []
        for _ in range(3):
            side = np.array([-u[1], u[0]]) * rng.uniform(-6, 6)
            xy = edge + u * rng.uniform(14, 24) + side
            d = boundary.distance(shapely.Point(xy))
            if place.shape.contains(shapely.Point(xy)) or not 12 <= d <= 25:
                break
            drift.append(xy)
        if len(drift) == 3:
            return inside, drift
    return None


def drifting_unload(day, inside: np.ndarray, drift: list) -> int:
    """The ~10 min unload standing at ``inside`` with fixes drifting out; returns its start."""
    it, rng = day.it, day.rng
    work = day.v.work_s * SEC
    t0 = it.t
    for body, ms, forced in (
        ({"lift": False}, rng.randint(80, 110) * SEC, False),
        ({"lift": True, "loaded": "half", "cover": True}, rng.randint(200, 230) * SEC, True),
        ({"lift": False, "loaded": "empty", "cover": False}, rng.randint(280, 320) * SEC, False),
    ):
        it.set(**body)
        end = it.t + ms
        first = True
        while it.t < end - 30 * SEC:
            stay = rng.randint(50, 110) * SEC if not (forced and first) else 40 * SEC
            it.stay(min(stay, end - it.t), WORKING, at=inside)
            if it.t >= end - 30 * SEC and not (forced and first):
                break
            twice = (forced and first) or rng.random() < 0.6  # the lift's drift: two fixes out
            length = int(work * (2.3 if twice else 1.2))
            it.stay(min(length, max(end - it.t, SEC)), WORKING, at=rng.choice(drift))
            first = False
        if it.t < end:
            it.stay(end - it.t, WORKING, at=inside)
    it.job = False
    return t0


def queue_spot(day, path: np.ndarray, terminal) -> float | None:
    """A distance along ``path`` 40-150 m outside ``terminal`` and clear of other places (the
    queue must still end before the terminal: 30 m of creeping)."""
    cum = cumulative(path)
    total = float(cum[-1])
    ring = terminal.shape.exterior
    for s in np.arange(total - 60.0, max(total - 900.0, 0.0), -10.0):
        xy = point_at(path, cum, float(s))
        if terminal.shape.contains(shapely.Point(xy)):
            continue
        d = ring.distance(shapely.Point(xy))
        ahead = point_at(path, cum, float(s) + 30.0)
        if 70 <= d <= 150 and not terminal.shape.contains(shapely.Point(ahead)):
            return float(s) if _only_near(day, xy, terminal) else None
    return None


def _only_near(day, xy, terminal) -> bool:
    near = [p for p in day.w.places.values()
            if math.dist(p.xy, xy) - p.radius <= 100 and p.id != terminal.id]  # fmt: skip
    return not near


def queue(day, s_q: float) -> list:
    """Haul events: stop 3-4 min, creep 30 m at 2.5 km/h, stop 2-3.3 min (5.7-8 min)."""
    marks = {}

    def stop(d):
        marks["t0"], marks["speed"], marks["stops"] = d.it.t, d.speed, d.stops
        d.it.stay(d.rng.randint(180, 240) * SEC)
        d.speed, d.stops = 2.5, False

    def stop_again(d):
        d.it.stay(d.rng.randint(120, 200) * SEC)
        d.speed, d.stops = marks["speed"], marks["stops"]

    return [(s_q, stop), (s_q + 30.0, stop_again)]


# -- kitchen ------------------------------------------------------------------------------------
JAM_HELD_M = (44.0, 48.0)  # net metres crept while the first 3 min of a jam go by (issue 11)


def jam_drive(day, path: np.ndarray) -> Episode | None:
    """Drive ``path`` with a ~4 min jam part-way; None (and nothing driven) when no stretch of
    road is clear of places and zones.

    The jam is a queue at a red light (issue 11: "a kitchen vehicle in a 4-minute jam" raised
    ``unregistered_collection``): stand 20-25 s longer than a report interval, then 3-4 crawls
    of a few metres at 4.5-6 km/h with 5-10 s stands between them, 44-48 m in all; stand again
    (red) until the first 3 min and one report are over; then creep on at 4-6 km/h to the end
    of the jam (3.9-4.2 min).
    So the net displacement stays within 44-48 m for more than 3 min (a stop to an engine
    that allows 60 m from where it stopped) while no 3 min stay within 40 m of where they began
    (a stop in one place, ``collection_radius_m``, is not). Its terminal reports at its moving
    interval throughout (the engine is on, the vehicle inching), the first fix exactly when it
    stands; GPS jitter is the noise model's, and no dropout or bad fix is put into the jam.
    """
    cum = cumulative(path)
    total = float(cum[-1])
    if total < 1500:
        return None
    rng = day.rng
    for _ in range(8):
        s = rng.uniform(400, total - 900)
        road = [point_at(path, cum, s + d) for d in range(0, 451, 25)]
        if _straight(path, cum, s) and all(
            day.w.far_from_places(p, 150) and day.w.clear_of_zones(p, 600) for p in road
        ):
            break
    else:
        return None
    it = day.it
    every = day.v.move_s
    it.drive(cut(path, cum, 0.0, s), day.speed())
    t0, first = it.t, len(it.legs)
    it.protect = True
    # The fix a stop starts at; standing past one report keeps any 3 min from it beyond 40 m.
    it.legs[it.stay(rng.randint(every + 20, every + 25) * SEC)].sync = True
    pos = s
    crawls = rng.randint(3, 4)
    step = rng.uniform(*JAM_HELD_M) / crawls
    for k in range(crawls):
        if k:
            it.stay(rng.randint(5, 10) * SEC)
        it.drive(cut(path, cum, pos, pos + step), rng.uniform(4.5, 6.0), stops=False)
        pos += step
    it.stay(max(t0 + 3 * MIN_MS + (every + 5) * SEC - it.t, 20 * SEC))  # red again
    end = t0 + rng.randint(235, 250) * SEC
    v = rng.uniform(4.0, 6.0)
    step = v / 3.6 * (end - it.t) / 1000
    it.drive(cut(path, cum, pos, pos + step), v, stops=False)
    pos += step
    it.protect = False
    for leg in it.legs[first:]:
        leg.every = every
    it.drive(cut(path, cum, pos, total), day.speed())
    return Episode("kitchen_jam", day.v.id, t0 - MIN_MS, end + 5 * MIN_MS,
                   f"{(end - t0) / 60000:.1f} min in a jam at a red light: "
                   f"{JAM_HELD_M[0]:.0f}-{JAM_HELD_M[1]:.0f} m in the first 3 min")  # fmt: skip


def _straight(path: np.ndarray, cum: np.ndarray, s: float) -> bool:
    """The road runs straight for 200 m from ``s``: the net displacement an engine measures (a
    chord) is then the distance crept along the road, not cut short by a corner."""
    a = point_at(path, cum, s)
    return all(math.dist(a, point_at(path, cum, s + d)) >= 0.98 * d for d in (50.0, 100.0, 200.0))


RAMP_M = (30.0, 80.0)  # a basement ramp's distance outside a producer's circle


def ramp_spot(day, path: np.ndarray, producer) -> float | None:
    """A distance along ``path`` 30-80 m outside ``producer``'s circle (the top of the ramp down
    to its basement dock) whose last 500 m of road are clear of every other place; None when the
    road has none."""
    cum = cumulative(path)
    want = day.rng.uniform(*RAMP_M)
    for s in np.arange(float(cum[-1]), 0.0, -2.0):
        xy = point_at(path, cum, float(s))
        edge = math.dist(xy, producer.xy) - producer.radius
        if edge >= want:
            if edge > RAMP_M[1]:
                return None
            return float(s) if _clear_approach(day, path, cum, float(s), producer) else None
    return None


def _clear_approach(day, path, cum, s_ramp: float, producer) -> bool:
    """No other place within 150 m of the ramp nor 30 m of the 500 m of road before it: a fence
    just left is still a pending exit at the ramp's fix, which no engine watches for signal."""
    others = [p for p in day.w.places.values() if p.id != producer.id]
    for s in np.arange(s_ramp, max(s_ramp - 500.0, 0.0), -10.0):
        xy = point_at(path, cum, float(s))
        reach = 150.0 if s == s_ramp else 30.0
        if any(math.dist(p.xy, xy) - p.radius <= reach for p in others):
            return False
    return True


def basement_collection(day, producer, path: np.ndarray) -> Episode | None:
    """Drive ``path`` down the ramp to ``producer``'s basement dock and collect there with ~14 min
    of no signal; None (nothing driven) when the round has no collection yet or the road no
    ramp.

    Issue 11: "a kitchen collection in a mall's basement dock with no signal for 14 minutes"
    raised ``signal_lost``. The vehicle is on a round with collections made (loaded: its signal
    is watched); its last fix is at the top of the ramp, 30-80 m outside the producer's circle
    (outside every fence); it goes dark there, drives down, collects 11-12 min under the mall,
    and is seen again (the first fix after the ~14 min gap) either back on the ramp or at the
    producer, where it stands 1-2 min before driving on.
    """
    it, rng = day.it, day.rng
    if not it.job:
        return None
    s_ramp = ramp_spot(day, path, producer)
    if s_ramp is None:
        return None
    cum = cumulative(path)
    it.drive(cut(path, cum, 0.0, s_ramp), day.speed())
    ramp, dock = it.xy.copy(), path[-1]
    it.protect = True
    t_a = it.t
    it.legs[it.stay(rng.randint(10, 20) * SEC)].sync = True  # the last fix: on the ramp
    it.drive(np.vstack([ramp, dock]), 6.0, stops=False)
    it.job = True
    up = rng.random() < 0.5  # seen again back on the ramp, else at the producer
    t_b = t_a + rng.randint(810, 870) * SEC
    if up:
        it.stay(t_b - it.t - int(math.dist(ramp, dock) / (6.0 / 3.6) * SEC))
        it.drive(np.vstack([dock, ramp]), 6.0, stops=False)
    else:
        it.stay(t_b - it.t)
    t_b = it.t
    it.legs[it.stay(rng.randint(60, 120) * SEC)].sync = True  # the first fix after the gap
    it.relink(t_a + SEC, t_b, DARK)
    it.protect = False
    where = "on the ramp" if up else "at the producer"
    return Episode("basement_dock", day.v.id, t_a - MIN_MS, it.t + 10 * MIN_MS,
                   f"collection at {producer.id}'s basement dock: last fix on the ramp "
                   f"{math.dist(ramp, producer.xy) - producer.radius:.0f} m outside, "
                   f"{(t_b - t_a) / 60000:.1f} min no signal, seen again {where}",
                   producer.id)  # fmt: skip
