"""Places of the simulated Wuxi: named fixed places, restricted zones, and sampled places.

Fixed places follow docs/domain.md and the bureau's plan: the Liangxi wharf
(梁溪区换装点/码头) and the transfer stations 梁溪转运站, 新吴分类转运中心 and 惠山阳山转运站;
the Xishan and Xinwu recycling terminals plus two disposal fields; 桃花山, a landfill being
closed (a terminal no permit names, which is where the wrong-terminal violation goes);
kitchen-waste and waste-oil plants and the kitchen fleets' depots (锡东环卫综合作业中心 among
them).

Restricted zones (禁行区) are star-shaped polygons around a centre:

- 梁溪老城区: muck trucks, 07:00-20:00 (the city centre by day);
- 蠡湖风景区: muck trucks, all day;
- 惠山古镇: muck, kitchen and oil vehicles, 07:00-22:00;
- 太湖新城核心区: muck trucks at the peaks, 07:00-09:00 and 17:00-19:00.

Every normal road keeps :data:`ZONE_MARGIN_M` clear of the zones that apply to the vehicle (see
``sim.roads``); places are sampled farther out still, so that only an injected violation
ever enters a zone.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

import numpy as np
import shapely

from sim.geo import xy_of

ZONE_MARGIN_M = 1000.0  # normal roads pass at least this far outside a restricted zone


@dataclass(frozen=True)
class Place:
    """A fence of a point-like place (everything but corridors and zones), in frame metres."""

    id: str
    kind: str
    name: str
    district: str
    xy: np.ndarray  # centre
    radius: float  # outer radius of the polygon (or of the producer circle)
    shape: shapely.Polygon  # the matched area in frame metres
    datum: str = "wgs84"  # the datum the fence is written in
    point: bool = False  # a producer written as Point + radius_m
    properties: dict = field(default_factory=dict)

    def spot(self, rng: random.Random) -> np.ndarray:
        """Where a vehicle parks: near the centre, well inside the fence (GPS jitter included)."""
        reach = 4.0 if self.point else 0.12 * self.radius
        a = rng.uniform(0, 2 * math.pi)
        r = rng.uniform(0, reach)
        return self.xy + r * np.array([math.cos(a), math.sin(a)])


@dataclass(frozen=True)
class Zone:
    """A restricted zone: a polygon with daily hours (empty = always) and vehicle kinds."""

    id: str
    name: str
    district: str
    xy: np.ndarray
    radius: float
    shape: shapely.Polygon
    hours: tuple[str, ...]
    windows: tuple[tuple[int, int], ...]  # the hours as (start_min, end_min)
    vehicle_kinds: tuple[str, ...]

    def applies(self, kind: str) -> bool:
        return not self.vehicle_kinds or kind in self.vehicle_kinds

    def active(self, minute_of_day: int) -> bool:
        """True when the zone restricts at this local minute (no hours: always)."""
        if not self.windows:
            return True
        return any(_in_window(s, e, minute_of_day) for s, e in self.windows)


def _in_window(s: int, e: int, m: int) -> bool:
    return s <= m < e if s <= e else (m >= s or m < e)


def parse_hours(text: str) -> tuple[int, int]:
    """``"HH:MM-HH:MM"`` to minutes of the day."""
    a, b = text.split("-")
    return int(a[:2]) * 60 + int(a[3:]), int(b[:2]) * 60 + int(b[3:])


def star(
    xy: np.ndarray, radius: float, rng: random.Random, n: int | None = None
) -> shapely.Polygon:
    """A star-shaped polygon (counter-clockwise) with vertices at 0.85-1.0 of ``radius``."""
    n = n or rng.randint(7, 11)
    pts = []
    for i in range(n):
        a = 2 * math.pi * (i + rng.uniform(-0.2, 0.2)) / n
        r = radius * rng.uniform(0.85, 1.0)
        pts.append((xy[0] + r * math.cos(a), xy[1] + r * math.sin(a)))
    return shapely.Polygon(pts)


def make_place(
    pid: str, kind: str, name: str, district: str, xy, radius: float, rng: random.Random, **kw
) -> Place:
    """A place with a star polygon (or a circle for a point producer)."""
    xy = np.asarray(xy, dtype=float)
    if kw.get("point"):
        shape = shapely.Point(xy).buffer(radius, quad_segs=16)
    else:
        shape = star(xy, radius, rng)
    return Place(pid, kind, name, district, xy, radius, shape, **kw)


# District centres (lat, lng) used to sample sites, depots and restaurants.
DISTRICTS = {
    "梁溪": (31.575, 120.300),
    "锡山": (31.610, 120.370),
    "惠山": (31.650, 120.240),
    "滨湖": (31.495, 120.255),
    "新吴": (31.550, 120.410),
    "经开": (31.475, 120.335),
}

# Road names per district, for site and restaurant names.
ROADS = {
    "梁溪": ("中山路", "解放南路", "人民路", "清扬路", "广瑞路", "通扬路", "槐古路"),
    "锡山": ("锡沪路", "团结中路", "东亭路", "友谊路", "云林路", "春笋路"),
    "惠山": ("惠山大道", "钱胡路", "洛城大道", "堰桥路", "西环线", "凤翔路"),
    "滨湖": ("湖滨路", "蠡湖大道", "梁溪路", "高浪路", "太湖大道", "震泽路"),
    "新吴": ("长江路", "新华路", "锡士路", "菱湖大道", "新洲路", "珠江路"),
    "经开": ("金融一街", "贡湖大道", "立信大道", "尚贤路", "观山路", "和风路"),
}

# (id, kind, name, district, lat, lng, radius_m)
FIXED = (
    ("transfer-liangxi-wharf", "transfer", "梁溪区换装点(码头)", "梁溪", 31.548, 120.283, 160),
    ("transfer-liangxi-station", "transfer", "梁溪转运站", "梁溪", 31.603, 120.287, 140),
    ("transfer-xinwu-sorting", "transfer", "新吴分类转运中心", "新吴", 31.535, 120.395, 180),
    ("transfer-huishan-yangshan", "transfer", "惠山阳山转运站", "惠山", 31.595, 120.125, 150),
    (
        "terminal-xishan-recycling",
        "terminal",
        "锡山区建筑垃圾资源化处置中心",
        "锡山",
        31.642,
        120.442,
        260,
    ),
    (
        "terminal-xinwu-recycling",
        "terminal",
        "新吴区建筑垃圾资源化利用项目",
        "新吴",
        31.469,
        120.462,
        260,
    ),
    ("terminal-huishan-field", "terminal", "惠山区建筑垃圾消纳场", "惠山", 31.680, 120.215, 240),
    ("terminal-binhu-field", "terminal", "滨湖区建筑垃圾消纳场", "滨湖", 31.455, 120.205, 220),
    (
        "terminal-taohuashan",
        "terminal",
        "桃花山生活垃圾填埋场(关停中)",
        "惠山",
        31.615,
        120.180,
        300,
    ),
    (
        "plant-kitchen-huishan",
        "plant",
        "无锡市餐厨废弃物资源化处理厂",
        "惠山",
        31.640,
        120.195,
        220,
    ),
    ("plant-kitchen-xinwu", "plant", "新吴区餐厨废弃物处理中心", "新吴", 31.575, 120.470, 200),
    ("plant-oil-xinwu", "plant", "新吴区废弃油脂处理厂", "新吴", 31.485, 120.448, 150),
    ("depot-xidong-sanitation", "depot", "锡东环卫综合作业中心", "锡山", 31.625, 120.462, 220),
    ("depot-xinwu-kitchen-fleet", "depot", "新吴区餐厨收运车队驻地", "新吴", 31.515, 120.412, 140),
    ("depot-binhu-kitchen-fleet", "depot", "滨湖区餐厨收运车队驻地", "滨湖", 31.470, 120.280, 140),
)
CLOSING_TERMINALS = frozenset({"terminal-taohuashan"})  # on no permit
KITCHEN_PLANTS = ("plant-kitchen-huishan", "plant-kitchen-xinwu")
OIL_PLANTS = ("plant-oil-xinwu",)
KITCHEN_DEPOTS = ("depot-xidong-sanitation", "depot-xinwu-kitchen-fleet")
OIL_DEPOTS = ("depot-binhu-kitchen-fleet",)

# (id, name, district, lat, lng, radius_m, hours, vehicle kinds)
ZONES = (
    ("restricted-liangxi-old-city", "梁溪老城区渣土车日间禁行区", "梁溪", 31.577, 120.302, 1400,
     ("07:00-20:00",), ("muck",)),
    ("restricted-binhu-lihu-scenic", "蠡湖风景区渣土车全天禁行区", "滨湖", 31.527, 120.235, 1000,
     (), ("muck",)),
    ("restricted-huishan-old-town", "惠山古镇禁行区", "惠山", 31.603, 120.243, 600,
     ("07:00-22:00",), ("muck", "kitchen", "oil")),
    ("restricted-jingkai-newtown-peak", "太湖新城核心区高峰禁行区", "经开", 31.492, 120.322, 1100,
     ("07:00-09:00", "17:00-19:00"), ("muck",)),
)  # fmt: skip


def fixed_places(rng: random.Random) -> list[Place]:
    """The named places of :data:`FIXED` (polygons drawn with ``rng``)."""
    return [
        make_place(pid, kind, name, dist, xy_of(lat, lng), r, rng)
        for pid, kind, name, dist, lat, lng, r in FIXED
    ]


def zones(rng: random.Random) -> list[Zone]:
    """The restricted zones of :data:`ZONES` as 24-gon stars."""
    out = []
    for zid, name, dist, lat, lng, r, hours, kinds in ZONES:
        xy = xy_of(lat, lng)
        shape = star(xy, r, rng, n=24)
        windows = tuple(parse_hours(h) for h in hours)
        out.append(Zone(zid, name, dist, xy, r, shape, hours, windows, kinds))
    return out
