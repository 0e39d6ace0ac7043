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
from functools import reduce
from operator import attrgetter, or_

import numpy as np
import shapely

from geofence import FenceIndex
from geofence.metric import buffer_m
from geofence.model import Fence, FenceKind
from stream.engine.config import Thresholds
from stream.engine.nearby import Nearby
from stream.registry import Registry
from stream.registry_entries import Vehicle

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
# Where a signal gap may be a dock or a shed (rules/signal.py); a depot is parking, not a trip.
DOCK_KINDS = frozenset(k for k, bit in KIND_BIT.items() if bit & KNOWN and not bit & DEPOT)
# Fences whose dwell means something, per vehicle kind (load/unload, collect/deliver).
DWELL_KINDS = {"muck": SITE | UNLOAD, "kitchen": PRODUCER | PLANT, "oil": PRODUCER | PLANT}

M_PER_DEG = 111_195.0  # mean metres per degree of latitude (and of longitude at the equator)
_GRID_DEG = 0.02  # restricted-zone grid cell, ~2 km: segments shorter than this touch <= 2 cells
_INV_GRID = 1 / _GRID_DEG
NEAR_INV = 500  # the near-zone grid: cells of 0.002 degrees (~200 m)
CROSS_REACH_M = 1000.0  # longer segments are always checked for crossings
NEAR_KEY = 1 << 20  # near_key = lat cell * NEAR_KEY + lng cell
_MAX_CACHED = 200_000  # entries of the fence-set caches before they start over


class FenceSet:
    """One distinct set of fences covering a point, classified once and shared (interned)."""

    __slots__ = (
        "ids",
        "idset",
        "mask",
        "limit",
        "restricted",
        "corridors",
        "unload",
        "route_ok",
        "visible",
    )

    def __init__(self, fences: Iterable[Fence]):
        fences = sorted(fences, key=attrgetter("id"))
        self.ids: tuple[str, ...] = tuple([f.id for f in fences])
        self.idset = frozenset(self.ids)
        bits = [KIND_BIT[f.kind] for f in fences]
        self.mask = mask = reduce(or_, bits, 0)
        limits = [float(f.speed_limit_kmh) for f in fences if f.speed_limit_kmh is not None]
        self.limit: float | None = min(limits) if limits else None
        # Near a hub a point lies in a hundred corridors: one pass each, only when needed.
        self.restricted = ()
        if mask & RESTRICTED:
            self.restricted = tuple(f for f, b in zip(fences, bits, strict=True) if b & RESTRICTED)
        self.corridors = frozenset()
        if mask & CORRIDOR:
            self.corridors = frozenset(
                f.id for f, b in zip(fences, bits, strict=True) if b & CORRIDOR
            )
        self.unload = ()
        if mask & UNLOAD:
            self.unload = tuple(f.id for f, b in zip(fences, bits, strict=True) if b & UNLOAD)
        # permit id -> inside one of its corridors or excused (None: a trip with no permit)
        self.route_ok: dict[str | None, bool] = {None: True}
        # a vehicle's corridors -> the ids it keeps visits for (see EngineContext.visible)
        self.visible: dict[frozenset, tuple[str, ...]] = {}

    def __repr__(self) -> str:
        return f"FenceSet{self.ids!r}"


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
        "stop_r2",
        "corridors",
    )

    def __init__(self, vehicle: Vehicle, th: Thresholds, registry: Registry):
        self.vehicle = vehicle
        self.kind = vehicle.kind
        self.muck = vehicle.kind == "muck"
        self.limit = float(th.speed_limit_kmh.get(vehicle.kind, 60.0))
        self.dwell_kinds = DWELL_KINDS.get(vehicle.kind, 0)
        self.watch_lost = vehicle.kind in th.signal_lost_kinds
        # A stop this long, touching none of these places, is judged by a stop rule.
        self.stop_ms = th.suspicious_stop_ms if self.muck else th.unregistered_stop_ms
        self.stop_known = KNOWN if self.muck else KITCHEN_KNOWN
        # ...in one place: a kitchen vehicle creeping in a jam is not stopped (issue 11).
        radius = th.stop_radius_m if self.muck else th.collection_radius_m
        self.stop_r2 = radius * radius
        # The corridors of its permits: the only ones it has visits (enter/exit events) in.
        self.corridors = frozenset(c for p in registry.permits_of(vehicle.id) for c in p.corridors)


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
        self.max_reported_kmh = th.max_reported_kmh
        self.reach2 = CROSS_REACH_M * CROSS_REACH_M
        self.refresh()

    def refresh(self) -> None:
        """Rebuild every cache from the current index and registry."""
        self.fences: dict[str, Fence] = {}
        for fid in self.index.ids.tolist():
            if fid is not None:
                self.fences[fid] = self.index.fence(fid)
        # Per fence id: its kind's bit and name (enum look-ups are slow on the per-ping path).
        self.kind_bit = {fid: KIND_BIT[f.kind] for fid, f in self.fences.items()}
        self.kind_name = {fid: f.kind.value for fid, f in self.fences.items()}
        # Metric distances to places, for the rare moments a rule needs them (issue 11).
        self.nearby = Nearby(self.fences, (self.th.service_area[0] + self.th.service_area[2]) / 2)
        self.vehicles = {
            vid: VehicleInfo(v, self.th, self.registry) for vid, v in self.registry.vehicles.items()
        }
        # Equal corridor sets as one object: FenceSet.visible is keyed by them, and a dict
        # look-up that finds its key by identity skips comparing two frozensets element-wise.
        shared: dict[frozenset, frozenset] = {}
        for info in self.vehicles.values():
            info.corridors = shared.setdefault(info.corridors, info.corridors)
        # The empty set is this context's own, made again on every refresh: a FenceSet memoises
        # rulings that depend on the registry (route_ok: a permit with no corridor present is
        # "nothing to deviate from"), and the empty set covers most of the map (issue 11 review:
        # a module-wide one kept such a ruling across reference edits and contexts).
        self.empty = FenceSet(())
        self._sets: dict[tuple[str, ...], FenceSet] = {(): self.empty}
        self._entered: dict[tuple, tuple[str, ...]] = {}
        self._visible: dict[tuple[str, ...], tuple[str, ...]] = {}
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
        # The per-ping crossing prefilter: a segment no longer than CROSS_REACH_M can only
        # cross a zone if it ends within that distance of the zone's box. Fine cells covering
        # those grown boxes, as ints (near_key), behind a cheaper test: the box around them.
        reach_lat = CROSS_REACH_M / M_PER_DEG
        reach_lng = CROSS_REACH_M / self.m_lng
        cells = set()
        for f in self.restricted:
            lng0, lat0, lng1, lat1 = f.area.bounds
            for i in range(_fine(lat0 - reach_lat), _fine(lat1 + reach_lat) + 1):
                for j in range(_fine(lng0 - reach_lng), _fine(lng1 + reach_lng) + 1):
                    cells.add(i * NEAR_KEY + j)
        self.near_cells = frozenset(cells)
        self.near_box = (1.0, 1.0, -1.0, -1.0)  # empty
        if self.restricted:
            boxes = [f.area.bounds for f in self.restricted]
            self.near_box = (
                min(b[1] for b in boxes) - 2 * reach_lat,
                min(b[0] for b in boxes) - 2 * reach_lng,
                max(b[3] for b in boxes) + 2 * reach_lat,
                max(b[2] for b in boxes) + 2 * reach_lng,
            )
        self.bounds = {f.id: f.area.bounds for f in self.restricted}  # (min lng, lat, max lng, lat)
        # Producer -> the contracts naming it, by id: poaching (issue 11).
        held: dict[str, list] = {}
        for contract in sorted(self.registry.contracts.values(), key=attrgetter("id")):
            for producer in contract.producers:
                held.setdefault(producer, []).append(contract)
        self.contracts_at = {producer: tuple(cs) for producer, cs in held.items()}
        self._near: dict[tuple[float, float], tuple[str, ...]] = {}  # places_near, by point

    def near_key(self, lat: float, lng: float) -> int:
        """Fine grid key of a point, comparable with ``near_cells``."""
        return math.floor(lat * NEAR_INV) * NEAR_KEY + math.floor(lng * NEAR_INV)

    # -- fence sets ---------------------------------------------------------------------------
    def fenceset(self, ids: Iterable[str]) -> FenceSet:
        """The interned FenceSet of these fence ids, in any order (unknown ids are ignored)."""
        raw = ids if isinstance(ids, tuple) else tuple(ids)
        sets = self._sets
        fs = sets.get(raw)
        if fs is not None:
            return fs
        key = tuple(sorted(raw))
        fs = sets.get(key)
        if fs is None:
            fs = sets.get(tuple(i for i in key if i in self.fences))
        if fs is None:
            fs = FenceSet(self.fences[i] for i in key if i in self.fences)
        if len(sets) >= _MAX_CACHED:  # bounded; sets made again are equal, just not identical
            sets.clear()
            sets[()] = self.empty
        sets[fs.ids] = fs
        sets[key] = fs
        sets[raw] = fs  # e.g. the index's order of the ids, as match_many gives them
        return fs

    def visible(self, fs: FenceSet, info: VehicleInfo) -> tuple[str, ...]:
        """The ids of ``fs`` a vehicle keeps visits for (enter/exit events, dwell): every fence
        but the corridors of other permits. Near a hub a point lies in a hundred overlapping
        corridors; entering and leaving those of other sites' routes means nothing here."""
        if not fs.mask & CORRIDOR:
            return fs.ids
        ids = fs.visible.get(info.corridors)
        if ids is None:
            own = info.corridors
            others = fs.corridors - own
            ids = tuple(f for f in fs.ids if f not in others) if others else fs.ids
            # interned: the same ids seen through another fence set are the same tuple
            ids = fs.visible[own] = self._visible.setdefault(ids, ids)
        return ids

    def entered(self, before: tuple[str, ...], after: tuple[str, ...]) -> tuple[str, ...]:
        """Ids in ``after`` not in ``before`` (id tuples of consecutive pings), in order."""
        key = (before, after)
        new = self._entered.get(key)
        if new is None:
            old = set(before)
            new = tuple(f for f in after if f not in old)
            if len(self._entered) >= _MAX_CACHED:
                self._entered.clear()
            self._entered[key] = new
        return new

    def match(self, lat: float, lng: float) -> FenceSet:
        """The FenceSet covering one point (the batch driver uses ``match_many`` instead)."""
        return self.fenceset(self.index.match(lat, lng))

    def match_many(self, lats: list[float], lngs: list[float]) -> list[FenceSet]:
        """One FenceSet per point, from a single ``FenceIndex.match_many`` call."""
        n = len(lats)
        out = [self.empty] * n
        if not n:
            return out
        pidx, fidx = self.index.match_many(np.asarray(lats), np.asarray(lngs))
        if not len(pidx):
            return out
        # Pairs come sorted by point: one run of fence positions per covered point.
        cut = np.flatnonzero(pidx[1:] != pidx[:-1]) + 1
        starts = np.concatenate(([0], cut))
        ends = np.concatenate((cut, [len(pidx)])).tolist()
        names = self.index.ids[fidx].tolist()
        sets = self._sets
        for p, a, b in zip(pidx[starts].tolist(), starts.tolist(), ends, strict=True):
            key = tuple(names[a:b])
            fs = sets.get(key)
            out[p] = fs if fs is not None else self.fenceset(key)
        return out

    # -- registered places near a point (signal lost in a dock, issue 11) ----------------------
    def places_near(self, lat: float, lng: float) -> tuple[str, ...]:
        """Ids (sorted) of the registered places (``DOCK_KINDS``: not depots) covering the point
        or within ``dock_reach_m`` of their boundary. Asked only to decide a signal gap."""
        key = (lat, lng)
        near = self._near.get(key)
        if near is not None:
            return near
        near = tuple(self.nearby.places_within(DOCK_KINDS, lat, lng, self.th.dock_reach_m))
        if len(self._near) >= _MAX_CACHED:
            self._near.clear()
        self._near[key] = near
        return near

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


def _fine(deg: float) -> int:
    return math.floor(deg * NEAR_INV)
