"""The simulated fleet and its paperwork: places, corridors, vehicles, permits and contracts.

Scale follows the fleet size N: about 85 % muck trucks (渣土车), the rest kitchen-waste (餐厨)
and waste-oil (废弃油脂) vehicles, two to one. Muck trucks belong to transport companies with a
depot each (about one company per 25 trucks); there is one construction site per ~5 trucks, each
with one disposal permit naming its trucks, its one or two nearest terminals or transfer points
(never the closing 桃花山 landfill), one corridor per terminal (the road the trucks drive, 40-100 m
half-width, some with a 50 km/h limit) and night hours (mostly 20:00-06:00). Kitchen and oil
vehicles each hold a collection contract with 6-12 (oil: 4-8) restaurants around a district
centre — producer points of radius 20-40 m — and a plant. A few sites, terminals and restaurants
are written in GCJ-02, as if drawn on an Amap screen.

Vehicle terminals differ: most report WGS-84 over JT/T 808 with ISO timestamps; about 15 % come
forwarded from another platform (JT/T 809) with epoch-millisecond timestamps in GCJ-02. About
80 % of muck trucks have body sensors (loaded, lift, cover); the rest report ``loaded: null``.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

import numpy as np

from sim import places as P
from sim.geo import to_xy, xy_of
from sim.places import Place, Zone
from sim.roads import road

DAY_MS = 86_400_000
MIN_MS = 60_000
MIN_HAUL_M = 3000.0
BEIJING_MS = 8 * 3_600_000
KITCHEN_COMPANIES = ("无锡城投餐厨收运有限公司", "无锡惠民餐厨收运有限公司")


@dataclass(frozen=True)
class Corridor:
    """An approved route: the road from a site to a terminal, with a half-width."""

    id: str
    name: str
    district: str
    site: str
    terminal: str
    path: np.ndarray
    buffer_m: float
    speed_limit_kmh: float | None


@dataclass
class Vehicle:
    id: str
    kind: str  # muck | kitchen | oil
    company: str
    district: str
    terminal_phone: str
    plate: str
    depot: str
    sensors: bool  # reports loaded / lift / cover_open (muck only)
    forwarded: bool  # JT/T 809 platform feed: epoch-ms timestamps, GCJ-02 positions
    move_s: int  # report interval while moving (ACC on)
    work_s: int  # ... while stationary with the engine on (loading, collecting)
    park_s: int  # ... while parked (ACC off)
    loaded_field: bool = True  # False: no load sensor and no ``loaded`` field at all (issue 11)


@dataclass
class Permit:
    id: str
    site: str
    vehicles: list[str]
    terminals: list[str]
    corridors: list[str]
    valid_from: int
    valid_to: int
    hours: list[str]


@dataclass
class Contract:
    id: str
    vehicle: str
    producers: list[str]
    plants: list[str]


@dataclass
class World:
    """Everything the simulator plans against and writes out."""

    seed: int
    start_ms: int
    end_ms: int
    places: dict[str, Place]
    zones: list[Zone]
    corridors: dict[str, Corridor]
    vehicles: list[Vehicle]
    permits: list[Permit]
    contracts: list[Contract]
    normal_ops: bool = True  # the normal-operation patterns of sim.normal (issue 11)
    _roads: dict = field(default_factory=dict, repr=False)

    def permit_of(self, vehicle: str) -> Permit:
        return next(p for p in self.permits if vehicle in p.vehicles)

    def contract_of(self, vehicle: str) -> Contract:
        return next(c for c in self.contracts if c.vehicle == vehicle)

    def zones_for(self, kind: str) -> list[Zone]:
        return [z for z in self.zones if z.applies(kind)]

    def road(self, a: np.ndarray, b: np.ndarray, kind: str, tag: str = "") -> np.ndarray:
        """A road for a vehicle of ``kind`` (memoised: the same ends give the same road)."""
        key = (round(a[0]), round(a[1]), round(b[0]), round(b[1]), kind, tag)
        path = self._roads.get(key)
        if path is None:
            rng = random.Random(f"{self.seed}/road/{key}")
            path = road(a, b, rng, self.zones_for(kind))
            self._roads[key] = path
        return path

    def far_from_places(self, xy: np.ndarray, metres: float) -> bool:
        """True when ``xy`` is more than ``metres`` outside every place's outer radius."""
        c, r = self._centres()
        d = np.hypot(c[:, 0] - xy[0], c[:, 1] - xy[1]) - r
        return bool((d > metres).all())

    def clear_of_zones(self, xy: np.ndarray, metres: float) -> bool:
        return all(math.dist(z.xy, xy) > z.radius + metres for z in self.zones)

    def _centres(self):
        cached = self._roads.get("__centres__")
        if cached is None or len(cached[0]) != len(self.places):
            pl = list(self.places.values())
            cached = (np.array([p.xy for p in pl]), np.array([p.radius for p in pl]))
            self._roads["__centres__"] = cached
        return cached


def build_world(
    n_vehicles: int, seed: int, start_ms: int, end_ms: int, normal_ops: bool = True
) -> World:
    """Lay out the scenario for ``n_vehicles`` (see the module docstring); ``normal_ops``:
    whether the normal-operation patterns of ``sim.normal`` are played."""
    rng = random.Random(f"{seed}/world")
    n_muck = max(1, round(n_vehicles * 0.85)) if n_vehicles > 1 else n_vehicles
    n_other = n_vehicles - n_muck
    n_oil = n_other // 3
    n_kitchen = n_other - n_oil
    places = {p.id: p for p in P.fixed_places(rng)}
    zones = P.zones(rng)
    world = World(seed, start_ms, end_ms, places, zones, {}, [], [], [], normal_ops)
    muck_depots = _sample_places(world, rng, "depot", max(3, math.ceil(n_muck / 25)), 150)
    sites = _sample_places(world, rng, "site", max(4, math.ceil(n_muck / 5)), 170)
    _permits(world, rng, sites, start_ms)
    _muck_fleet(world, rng, n_muck, sites, muck_depots)
    _kitchen_fleet(world, rng, n_kitchen, n_oil)
    return world


def _sample_places(world: World, rng: random.Random, kind: str, n: int, size: float) -> list:
    names = list(P.DISTRICTS)
    out = []
    for i in range(n):
        district = names[i % len(names)]
        centre = xy_of(*P.DISTRICTS[district])
        xy = _free_spot(world, rng, centre, 3500.0, size, P.ZONE_MARGIN_M + 600.0)
        road_name = rng.choice(P.ROADS[district])
        if kind == "site":
            pid, name = f"site-{i + 1:03d}", f"{district}区{road_name}地块项目工地"
        else:
            pid, name = f"depot-muck-{i + 1:02d}", f"{district}区{road_name}渣土运输车队停车场"
        radius = rng.uniform(0.7, 1.0) * size + 60
        datum = "gcj02" if kind == "site" and rng.random() < 0.15 else "wgs84"
        place = P.make_place(pid, kind, name, district, xy, radius, rng, datum=datum)
        world.places[pid] = place
        out.append(place)
    return out


def _free_spot(world, rng, centre, spread, size, zone_gap) -> np.ndarray:
    for _ in range(500):
        xy = centre + np.array([rng.gauss(0, spread), rng.gauss(0, spread)])
        if world.far_from_places(xy, 400 + size) and world.clear_of_zones(xy, zone_gap):
            return xy
    raise RuntimeError("no free spot for a place; the scenario is too crowded")


def _permits(world: World, rng: random.Random, sites: list[Place], start_ms: int) -> None:
    unload = [p for p in world.places.values() if p.kind in ("terminal", "transfer")]
    unload = [p for p in unload if p.id not in P.CLOSING_TERMINALS]
    day0 = _local_midnight(start_ms)
    for i, site in enumerate(sites):
        # Hauls of 3 km and more: a truck is never back at its site or terminal within
        # minutes (which would read as the same visit), and the trip is worth tracking.
        near = sorted(unload, key=lambda p: (math.dist(p.xy, site.xy), p.id))
        near = [p for p in near if math.dist(p.xy, site.xy) >= MIN_HAUL_M] or near[-1:]
        terminals = near[: 2 if rng.random() < 0.6 else 1]
        corridors = []
        for j, term in enumerate(terminals):
            cid = f"corridor-{i + 1:03d}-{j + 1}"
            path = world.road(site.xy, term.xy, "muck", cid)
            limit = 50.0 if rng.random() < 0.3 else None
            buffer = float(rng.choice((40, 50, 60, 70, 80, 100)))
            name = f"{site.name[:-2]}至{term.name}核准路线"
            world.corridors[cid] = Corridor(
                cid, name, site.district, site.id, term.id, path, buffer, limit
            )
            corridors.append(cid)
        roll = rng.random()
        hours = (
            ["20:00-06:00"]
            if roll < 0.7
            else (["21:00-05:30"] if roll < 0.9 else ["20:00-23:30", "00:30-06:00"])
        )
        world.permits.append(
            Permit(
                f"permit-{i + 1:03d}",
                site.id,
                [],
                [t.id for t in terminals],
                corridors,
                day0 - rng.randint(20, 60) * DAY_MS,
                day0 + rng.randint(30, 180) * DAY_MS + DAY_MS - 1000,
                hours,
            )
        )


def _muck_fleet(world, rng, n, sites, depots) -> None:
    for i in range(n):
        site = sites[i % len(sites)]
        depot = min(depots, key=lambda d: (math.dist(d.xy, site.xy), d.id))
        company = f"无锡{depot.district}{'华鑫通达恒顺'[int(depot.id[-2:]) % 4]}渣土运输有限公司"
        v = _vehicle(rng, len(world.vehicles), "muck", company, depot)
        v.sensors = rng.random() < 0.8
        # One sensorless truck in two omits ``loaded`` altogether (issue 11, no_load_field).
        v.loaded_field = v.sensors or not world.normal_ops or i % 2 == 0
        world.vehicles.append(v)
        world.permits[i % len(sites)].vehicles.append(v.id)


def _kitchen_fleet(world: World, rng: random.Random, n_kitchen: int, n_oil: int) -> None:
    names = list(P.DISTRICTS)
    for i in range(n_kitchen + n_oil):
        kind = "kitchen" if i < n_kitchen else "oil"
        depots = P.KITCHEN_DEPOTS if kind == "kitchen" else P.OIL_DEPOTS
        depot = world.places[depots[i % len(depots)]]
        # Two kitchen companies (issue 11: poaching is a collection on another company's
        # contract); one waste-oil company.
        company = KITCHEN_COMPANIES[i % 2] if kind == "kitchen" else "无锡绿源油脂回收有限公司"
        v = _vehicle(rng, len(world.vehicles), kind, company, depot)
        world.vehicles.append(v)
        district = names[i % len(names)]
        centre = xy_of(*P.DISTRICTS[district]) + np.array([rng.gauss(0, 1500), rng.gauss(0, 1500)])
        count = rng.randint(6, 12) if kind == "kitchen" else rng.randint(4, 8)
        producers = [_producer(world, rng, district, centre, v.id, k) for k in range(count)]
        plants = P.KITCHEN_PLANTS if kind == "kitchen" else P.OIL_PLANTS
        plant = min(plants, key=lambda p: math.dist(world.places[p].xy, centre))
        world.contracts.append(
            Contract(f"contract-{i + 1:03d}", v.id, [p.id for p in producers], [plant])
        )


def _producer(world, rng, district, centre, vid, k) -> Place:
    kitchen_zones = [z for z in world.zones if z.applies("kitchen")]
    for _ in range(500):
        xy = centre + np.array([rng.gauss(0, 1800), rng.gauss(0, 1800)])
        if not world.far_from_places(xy, 150):
            continue
        if all(math.dist(z.xy, xy) > z.radius + P.ZONE_MARGIN_M + 300 for z in kitchen_zones):
            break
    else:
        raise RuntimeError("no free spot for a restaurant")
    road_name = rng.choice(P.ROADS[district])
    kind_name = rng.choice(("酒家", "面馆", "火锅店", "职工食堂", "小吃店", "大饭店", "快餐店"))
    pid = f"producer-{vid.lower()}-{k + 1:02d}"
    datum = "gcj02" if rng.random() < 0.08 else "wgs84"
    radius = float(rng.choice((20, 25, 30, 35, 40)))
    place = P.make_place(
        pid, "producer", f"{road_name}{kind_name}", district, xy, radius, rng, point=True,
        datum=datum,
    )  # fmt: skip
    world.places[pid] = place
    return place


def _vehicle(rng: random.Random, index: int, kind: str, company: str, depot: Place) -> Vehicle:
    vid = f"V{index + 1:04d}"
    letters = "ABCDEFGHJKLMNPQRSTUVWXYZ"
    plate = f"苏B{rng.choice(letters)}{rng.randint(0, 99999):05d}"
    return Vehicle(
        id=vid,
        kind=kind,
        company=company,
        district=depot.district,
        terminal_phone=f"0139{index + 1:08d}",
        plate=plate,
        depot=depot.id,
        sensors=False,
        forwarded=rng.random() < 0.15,
        move_s=rng.choice((10, 15, 15, 20, 20, 30)),
        work_s=rng.choice((30, 30, 45, 60)),
        park_s=rng.choice((120, 180, 180, 300)),
    )


def _local_midnight(ms: int) -> int:
    """Beijing midnight at or before ``ms``."""
    return (ms + BEIJING_MS) // DAY_MS * DAY_MS - BEIJING_MS


def local_minute(ms: int) -> int:
    """Minute of the Beijing day of epoch ms."""
    return (ms + BEIJING_MS) // MIN_MS % 1440


def windows(hours: list[str], start_ms: int, end_ms: int) -> list[tuple[int, int]]:
    """Daily ``"HH:MM-HH:MM"`` windows as epoch-ms intervals clipped to [start, end), merged."""
    out = []
    day = _local_midnight(start_ms) - DAY_MS
    while day < end_ms:
        for text in hours:
            s, e = P.parse_hours(text)
            ws = day + s * MIN_MS
            we = day + e * MIN_MS + (DAY_MS if e <= s else 0)
            lo, hi = max(ws, start_ms), min(we, end_ms)
            if lo < hi:
                out.append((lo, hi))
        day += DAY_MS
    out.sort()
    merged: list[tuple[int, int]] = []
    for s, e in out:
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return merged


def plan_night(day, wins: list[tuple[int, int]]) -> None:
    """A vehicle's night over its working windows ``wins``: the trick's hook before the first,
    a session in each until the day is done, the trick's hook after the last, then parked to
    the end of the horizon (the muck and the kitchen day alike, issue 11)."""
    if day.trick is not None:
        day.trick.before(day, wins)
    for ws, we in wins:
        if day.done:
            break
        day.session(ws, we)
    if day.trick is not None and not day.done:
        day.trick.after(day)
    day.it.park_until(day.w.end_ms + MIN_MS)


__all__ = ["World", "Vehicle", "Permit", "Contract", "Corridor", "build_world", "to_xy"]
