"""What the engine checks pings against: the fence index, the registry and the thresholds.

:class:`EngineContext` also holds derived, read-only caches so that the per-ping path stays cheap:
each distinct set of covering fences becomes one interned :class:`FenceSet` (kinds as a bit mask,
the speed limit, restricted zones, corridors), corridors get a tolerance area ``deviation_m``
wider, and restricted zones a coarse grid used to find segments that may cross them.
After fences or the registry change, call :meth:`EngineContext.refresh`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import shapely

from geofence import FenceIndex
from geofence.metric import buffer_m
from geofence.model import Fence, FenceKind
from stream.engine.config import Thresholds
from stream.registry import Registry, Vehicle

# Kind bits of a FenceSet mask.
SITE, TRANSFER, TERMINAL, PRODUCER, PLANT, RESTRICTED, DEPOT, CORRIDOR = (1 << i for i in range(8))
KIND_BIT = {
    FenceKind.SITE: SITE,
    FenceKind.TRANSFER: TRANSFER,
    FenceKind.TERMINAL: TERMINAL,
    FenceKind.PRODUCER: PRODUCER,
    FenceKind.PLANT: PLANT,
    FenceKind.RESTRICTED: RESTRICTED,
    FenceKind.DEPOT: DEPOT,
    FenceKind.CORRIDOR: CORRIDOR,
}
UNLOAD = TRANSFER | TERMINAL
KNOWN = SITE | TRANSFER | TERMINAL | PRODUCER | PLANT | DEPOT  # stops here are normal
KITCHEN_KNOWN = PRODUCER | PLANT | DEPOT
# Fences whose dwell means something, per vehicle kind (load/unload, collect/deliver).
DWELL_KINDS = {"muck": SITE | UNLOAD, "kitchen": PRODUCER | PLANT, "oil": PRODUCER | PLANT}

M_PER_DEG = 111_195.0  # mean metres per degree of latitude (and of longitude at the equator)
_GRID_DEG = 0.02  # restricted-zone grid cell, ~2 km: segments shorter than this touch <= 2 cells
_INV_GRID = 1 / _GRID_DEG
_KEY = 1 << 20


class FenceSet:
    """One distinct set of fences covering a point, classified once and shared (interned)."""

    __slots__ = ("ids", "mask", "limit", "restricted", "corridors", "unload", "route_ok")

    def __init__(self, fences: Iterable[Fence]):
        fences = sorted(fences, key=lambda f: f.id)
        self.ids: tuple[str, ...] = tuple(f.id for f in fences)
        self.mask = 0
        limits = []
        for f in fences:
            self.mask |= KIND_BIT[f.kind]
            if f.speed_limit_kmh is not None:
                limits.append(float(f.speed_limit_kmh))
        self.limit: float | None = min(limits) if limits else None
        self.restricted = tuple(f for f in fences if f.kind is FenceKind.RESTRICTED)
        self.corridors = frozenset(f.id for f in fences if f.kind is FenceKind.CORRIDOR)
        self.unload = tuple(f.id for f in fences if KIND_BIT[f.kind] & UNLOAD)
        # permit id -> inside one of its corridors or excused (None: a trip with no permit)
        self.route_ok: dict[str | None, bool] = {None: True}

    def __repr__(self) -> str:
        return f"FenceSet{self.ids!r}"


EMPTY = FenceSet(())


class VehicleInfo:
    """Registry facts about one vehicle, resolved once."""

    __slots__ = (
        "vehicle",
        "kind",
        "muck",
        "limit",
        "dwell_kinds",
        "watch_lost",
        "stop_ms",
        "stop_known",
    )

    def __init__(self, vehicle: Vehicle, th: Thresholds):
        self.vehicle = vehicle
        self.kind = vehicle.kind
        self.muck = vehicle.kind == "muck"
        self.limit = float(th.speed_limit_kmh.get(vehicle.kind, 60.0))
        self.dwell_kinds = DWELL_KINDS.get(vehicle.kind, 0)
        self.watch_lost = vehicle.kind in th.signal_lost_kinds
        # A stop this long, touching none of these places, is judged by a stop rule.
        self.stop_ms = th.suspicious_stop_ms if self.muck else th.unregistered_stop_ms
        self.stop_known = KNOWN if self.muck else KITCHEN_KNOWN


class EngineContext:
    """The index, registry and thresholds the engine runs against, plus derived caches.

    Parameters
    ----------
    index : FenceIndex
        Fences (WGS-84).
    registry : Registry
        Vehicles, permits and contracts.
    thresholds : Thresholds, optional
        Defaults when omitted.
    """

    def __init__(self, index: FenceIndex, registry: Registry, thresholds: Thresholds | None = None):
        self.index = index
        self.registry = registry
        self.th = thresholds or Thresholds()
        min_lat, min_lng, max_lat, max_lng = self.th.service_area
        self.cos_lat = math.cos(math.radians((min_lat + max_lat) / 2))
        margin = self.th.outside_margin_km * 1000 / M_PER_DEG
        margin_lng = margin / self.cos_lat
        self.area = (min_lat - margin, min_lng - margin_lng, max_lat + margin, max_lng + margin_lng)
        # Flat copies of what the per-ping path reads (one attribute load each).
        th = self.th
        self.m_lng = M_PER_DEG * self.cos_lat  # metres per degree of longitude here
        self.jump_min2 = th.jump_min_m * th.jump_min_m
        self.stop_r2 = th.stop_radius_m * th.stop_radius_m
        self.lost_ms = th.signal_lost_ms
        self.reorder_ms = th.reorder_ms
        self.crossing_gap_ms = th.crossing_gap_ms
        self.evidence_n = th.evidence_pings
        self.slow_kmh = th.slow_kmh
        self.moving_kmh = th.moving_kmh
        self.grid_len2 = (_GRID_DEG * self.m_lng) ** 2  # a segment longer may skip grid cells
        self.refresh()

    def refresh(self) -> None:
        """Rebuild every cache from the current index and registry."""
        self.fences: dict[str, Fence] = {}
        for fid in self.index.ids.tolist():
            if fid is not None:
                self.fences[fid] = self.index.fence(fid)
        self.vehicles = {vid: VehicleInfo(v, self.th) for vid, v in self.registry.vehicles.items()}
        self._sets: dict[tuple[str, ...], FenceSet] = {(): EMPTY}
        self._tolerance: dict[str, object] = {}
        self.restricted = [f for f in self.fences.values() if f.kind is FenceKind.RESTRICTED]
        self.restricted.sort(key=lambda f: f.id)
        self._grid: dict[tuple[int, int], tuple[Fence, ...]] = {}
        for f in self.restricted:
            lng0, lat0, lng1, lat1 = f.area.bounds
            shapely.prepare(f.area)
            for i in range(_cell(lat0) - 1, _cell(lat1) + 2):
                for j in range(_cell(lng0) - 1, _cell(lng1) + 2):
                    self._grid[(i, j)] = (*self._grid.get((i, j), ()), f)
        # Cells near a restricted zone, as ints: the per-ping crossing prefilter (near_key),
        # behind a cheaper one: the bounding box of all those cells.
        self.near_cells = frozenset(i * _KEY + j for i, j in self._grid)
        self.near_box = (1.0, 1.0, -1.0, -1.0)  # empty
        if self._grid:
            rows = [i for i, _ in self._grid]
            cols = [j for _, j in self._grid]
            self.near_box = (
                min(rows) * _GRID_DEG,
                min(cols) * _GRID_DEG,
                (max(rows) + 1) * _GRID_DEG,
                (max(cols) + 1) * _GRID_DEG,
            )
        self.bounds = {f.id: f.area.bounds for f in self.restricted}  # (min lng, lat, max lng, lat)

    def near_key(self, lat: float, lng: float) -> int:
        """Grid key of a point, comparable with ``near_cells``."""
        return math.floor(lat * _INV_GRID) * _KEY + math.floor(lng * _INV_GRID)

    # -- fence sets ---------------------------------------------------------------------------
    def fenceset(self, ids: Iterable[str]) -> FenceSet:
        """The interned FenceSet of these fence ids (unknown ids are ignored)."""
        key = tuple(sorted(ids))
        fs = self._sets.get(key)
        if fs is None:
            fs = self._sets.get(tuple(i for i in key if i in self.fences))
        if fs is None:
            fs = FenceSet(self.fences[i] for i in key if i in self.fences)
            self._sets[fs.ids] = fs
        self._sets[key] = fs
        return fs

    def match(self, lat: float, lng: float) -> FenceSet:
        """The FenceSet covering one point (the batch driver uses ``match_many`` instead)."""
        return self.fenceset(self.index.match(lat, lng))

    def match_many(self, lats: list[float], lngs: list[float]) -> list[FenceSet]:
        """One FenceSet per point, from a single ``FenceIndex.match_many`` call."""
        n = len(lats)
        out = [EMPTY] * n
        if not n:
            return out
        pidx, fidx = self.index.match_many(np.asarray(lats), np.asarray(lngs))
        if not len(pidx):
            return out
        ids = self.index.ids
        points = pidx.tolist()
        names = ids[fidx].tolist()
        by_key: dict[tuple[str, ...], FenceSet] = {}
        start = 0
        total = len(points)
        while start < total:
            p = points[start]
            end = start + 1
            while end < total and points[end] == p:
                end += 1
            key = tuple(names[start:end])
            fs = by_key.get(key)
            if fs is None:
                fs = by_key[key] = self.fenceset(key)
            out[p] = fs
            start = end
        return out

    # -- corridors and restricted zones -------------------------------------------------------
    def near_corridor(self, corridor_ids: Iterable[str], lat: float, lng: float) -> bool:
        """True when (lat, lng) is within ``deviation_m`` of any of these corridors."""
        for cid in corridor_ids:
            area = self._tolerance.get(cid)
            if area is None:
                fence = self.fences.get(cid)
                if fence is None:
                    continue
                area = buffer_m(fence.area, self.th.deviation_m)
                shapely.prepare(area)
                self._tolerance[cid] = area
            if shapely.intersects_xy(area, lng, lat):
                return True
        return False

    def restricted_near(self, lat0: float, lng0: float, lat1: float, lng1: float) -> tuple:
        """Restricted fences a straight segment may cross (a superset; grid prefilter)."""
        if not self._grid:
            return ()
        a = (_cell(lat0), _cell(lng0))
        b = (_cell(lat1), _cell(lng1))
        if abs(a[0] - b[0]) > 1 or abs(a[1] - b[1]) > 1:
            return tuple(self.restricted)  # a long segment: test them all (rare)
        near = self._grid.get(a, ())
        if b != a:
            extra = self._grid.get(b, ())
            if extra:
                near = tuple(sorted({*near, *extra}, key=lambda f: f.id))
        return near


def _cell(deg: float) -> int:
    return math.floor(deg * _INV_GRID)
