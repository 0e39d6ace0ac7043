"""Normal operation the bureau does not want flagged (DOMAIN.md; issue 11): no truth, episodes.

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

- ``kitchen_jam``: on the way to a restaurant, 3.5-4.5 min creeping at 1-8 km/h along the road
  (a traffic jam: moving, not a stop in one place).
- ``basement_dock``: a collection in a basement dock: 1.5-2.5 min seen, ~14 min without signal,
  seen again at the same spot for 1.5-2.5 min.

Episode windows cover where a wrong alert would be dated: a muck trip's from the start of its load
to 45 min after its unload (60 min for ``stuck_half``, whose sensor misleads on the drive home);
a jam's from a minute before to five after; a dock's the whole collection plus ten minutes.
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
def jam_drive(day, path: np.ndarray) -> Episode | None:
    """Drive ``path`` with a 3.5-4.5 min jam part-way (1-8 km/h, moving along the road);
    None (and nothing driven) when no stretch is clear of places and zones."""
    cum = cumulative(path)
    total = float(cum[-1])
    if total < 1500:
        return None
    rng = day.rng
    for _ in range(8):
        s = rng.uniform(400, total - 900)
        a, b = point_at(path, cum, s), point_at(path, cum, s + 450)
        if all(day.w.far_from_places(p, 150) and day.w.clear_of_zones(p, 600) for p in (a, b)):
            break
    else:
        return None
    it = day.it
    it.drive(cut(path, cum, 0.0, s), day.speed())
    t0 = it.t
    end = t0 + rng.randint(210, 270) * SEC
    pos = s
    while it.t < end:
        v = rng.uniform(1.0, 8.0)
        ms = min(rng.randint(20, 40) * SEC, end - it.t)
        step = v / 3.6 * ms / 1000
        part = cut(path, cum, pos, pos + step)
        it.drive(part, v, stops=False)
        pos += step
    it.drive(cut(path, cum, pos, total), day.speed())
    return Episode("kitchen_jam", day.v.id, t0 - MIN_MS, end + 5 * MIN_MS,
                   f"{(end - t0) / 60000:.1f} min creeping at 1-8 km/h in a jam")  # fmt: skip


def basement_collection(day, producer) -> Episode:
    """Collect at ``producer`` with ~14 min of no signal in the middle (a basement dock)."""
    it, rng = day.it, day.rng
    t0 = it.t
    it.job = True
    it.stay(rng.randint(90, 150) * SEC)
    t_a = it.t
    it.stay(rng.randint(810, 870) * SEC)
    t_b = it.t
    it.stay(rng.randint(90, 150) * SEC)
    it.relink(t_a, t_b, DARK)
    return Episode("basement_dock", day.v.id, t0, it.t + 10 * MIN_MS,
                   f"collection at {producer.id} with {(t_b - t_a) / 60000:.1f} min no signal "
                   "(basement dock), seen again there", producer.id)  # fmt: skip
